"""``kvnuma webhook``: serve the auto-NUMA admission webhook; ``kvnuma webhook gen-certs``: its TLS files."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from kvnuma.admission import Mode
from kvnuma.cli import bind_problem
from kvnuma.cli.options import Choice
from kvnuma.errors import InputError
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.certs import generate
from kvnuma.webhook.file_source import parse_source
from kvnuma.webhook.handlers import WebhookState
from kvnuma.webhook.server import SourceLoop, WebhookServer, folder_source
from kvnuma.webhook.switch import FLAG_VALUES, from_flag

__all__ = ["webhook"]


def _source(text: str) -> SourceLoop:
    folder = parse_source(text)
    if folder is not None:
        if not folder.is_dir():
            raise InputError("--source", f"{folder} is not a directory")
        return folder_source(folder)
    from kvnuma.webhook.kube_source import kube_source

    return kube_source()


async def _serve(server: WebhookServer, address: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        port = await server.start()
    except OSError as error:
        await server.stop()
        raise InputError(address, bind_problem(error)) from error
    logging.getLogger("kvnuma.webhook").info("serving on port %d", port)
    try:
        await stop.wait()
    finally:
        await server.stop()


@click.group(invoke_without_command=True, help="Serve the auto-NUMA admission webhook (VEP 135).")
@click.option(
    "--cert", type=click.Path(path_type=Path), help="Serving certificate (PEM); reloaded on change."
)
@click.option("--key", type=click.Path(path_type=Path), help="Its private key (PEM).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--source", default="kube", show_default=True, help="'kube' (list-and-watch) or file:DIR.")
@click.option("--mode", type=Choice([m.value for m in Mode]), default="skip", show_default=True)
@click.option(
    "--auto-numa",
    type=click.Choice(FLAG_VALUES),
    default="cluster",
    show_default=True,
    help="on/off: fixed; cluster: the KubeVirt CR's kvnuma.io/auto-numa annotation, else its "
    "developerConfiguration.autoNUMAEnablement field.",
)
@click.option(
    "--threshold",
    type=click.Choice(["cluster", "feasible"]),
    default="cluster",
    show_default=True,
    help="cluster: compare a VMI with the cluster's smallest NUMA node (VEP 135); feasible: with the "
    "smallest among the nodes it can land on (nodeSelector, required node affinity, taints it does not "
    "tolerate, cordoned nodes). feasible list-watches full Node objects (the taints are in the spec).",
)
@click.option(
    "--nrt",
    type=click.Choice(["off", "on"]),
    default="off",
    show_default=True,
    help="on: also list-watch NodeResourceTopology objects (topology.node.k8s.io/v1alpha2); a node with "
    "a valid one is measured by its Node zones' capacity instead of its kubevirt.io/max-single-numa-* "
    "annotations. Needs list/watch on noderesourcetopologies; without the CRD the annotations serve.",
)
@click.option("--cert-poll-seconds", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600))
@click.option(
    "--hugepages-required/--hugepages-not-required",
    default=True,
    show_default=True,
    help="Whether KubeVirt still requires memory.hugepages for passthrough (VEP 134 drops it).",
)
@click.pass_context
def webhook(
    ctx: click.Context,
    *,
    cert: Path | None,
    key: Path | None,
    host: str,
    port: int,
    source: str,
    mode: str,
    auto_numa: str,
    threshold: str,
    nrt: str,
    cert_poll_seconds: float,
    hugepages_required: bool,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if cert is None or key is None:
        raise InputError("--cert/--key", "both are required to serve (see kvnuma webhook gen-certs)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cache = ClusterCache(override=from_flag(auto_numa), feasible=threshold == "feasible", nrt=nrt == "on")
    state = WebhookState(cache=cache, mode=Mode(mode), hugepages_required=hugepages_required)
    server = WebhookServer(
        state,
        cert=cert,
        key=key,
        host=host,
        port=port,
        source=_source(source),
        cert_poll_seconds=cert_poll_seconds,
    )
    asyncio.run(_serve(server, f"--host {host} --port {port}"))


@webhook.command("gen-certs", help="Write ca.crt, tls.crt and tls.key for running without cert-manager.")
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--service", default="kvnuma-webhook", show_default=True)
@click.option("--namespace", default="kvnuma-system", show_default=True)
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
def gen_certs(out: Path, service: str, namespace: str, days: int) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}", "is a file, expected a directory")
    made = generate(out, service=service, namespace=namespace, days=days)
    for path in (made.ca_cert, made.cert, made.key):
        click.echo(str(path))
