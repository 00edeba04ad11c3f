"""The two libvirt lanes (scripts/setup-system.sh, KVNUMA_LIBVIRT): the other lane's schemas are here,
so every ``validate_domain`` in the suite checks libvirt 9.0's and 11.x's schemas, and the one
difference between them that kvnuma's output depends on is real."""

from __future__ import annotations

import subprocess
import tempfile

from support.libvirt import other_lane_schemas, validate_against, validate_domain

INSTALLED = subprocess.run(
    ["dpkg-query", "-W", "-f=${Version}", "libvirt-daemon"], capture_output=True, text=True, check=False
).stdout


def test_the_other_lanes_schemas_are_present() -> None:
    found = other_lane_schemas()
    assert found, "no .cache/libvirt-schemas/*/domain.rng: run scripts/setup-system.sh (step 5)"
    majors = {INSTALLED.split(".")[0], *(path.name.split(".")[0] for path in found)}
    assert majors == {"9", "11"}, (INSTALLED, [path.name for path in found])


CPU = "<cpu id='0' socket_id='0' die_id='0' {cluster}core_id='0' siblings='0'/>"
CAPABILITIES = """<capabilities><host><uuid>00000000-0000-0000-0000-000000000001</uuid>
<cpu><arch>x86_64</arch></cpu><topology><cells num='1'><cell id='0'>
<memory unit='KiB'>1048576</memory><cpus num='1'>{cpu}</cpus></cell></cells></topology>
</host></capabilities>"""


def installed_accepts(xml: str, kind: str) -> bool:
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(xml)
        handle.flush()
        argv = ["virt-xml-validate", handle.name, kind]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def test_cluster_id_in_capabilities_is_required_by_11_and_refused_by_9() -> None:
    """The one schema difference kvnuma's output meets: a capabilities <cpu> with socket_id needs
    cluster_id on libvirt 11 and must not have it on 9.0; kvnuma writes libvirt 11's form."""
    with_cluster = CAPABILITIES.format(cpu=CPU.format(cluster="cluster_id='0' "))
    without = CAPABILITIES.format(cpu=CPU.format(cluster=""))
    installed = INSTALLED.split(".")[0]
    verdicts = {
        installed: (installed_accepts(with_cluster, "capability"), installed_accepts(without, "capability"))
    }
    for path in other_lane_schemas():
        pair = (
            validate_against(path, with_cluster, "capability"),
            validate_against(path, without, "capability"),
        )
        verdicts[path.name.split(".")[0]] = (pair[0] == "", pair[1] == "")
    assert verdicts == {
        "11": (True, False),
        "9": (False, True),
    }


MINIMAL = "<domain type='qemu'><name>x</name><memory>1024</memory><os><type>hvm</type></os>{extra}</domain>"


def test_validate_domain_checks_every_lane() -> None:
    validate_domain(MINIMAL.format(extra=""))
    for schemas in other_lane_schemas():
        assert validate_against(schemas, MINIMAL.format(extra="")) == ""
        assert "bogus" in validate_against(schemas, MINIMAL.format(extra="<bogus/>"))
