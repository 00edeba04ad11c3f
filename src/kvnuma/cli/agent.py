"""``kvnuma agent``: publish this node's NUMA capacity on its Node (run as a DaemonSet)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kvnuma.cli import bind_problem
from kvnuma.cli.options import output_option
from kvnuma.cli.output import emit
from kvnuma.errors import InputError

if TYPE_CHECKING:
    from kvnuma.model.kubelet import KubeletResources

__all__ = ["agent"]


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise InputError("--listen", f"expected HOST:PORT with a port 0-65535, got {value!r}")
    return host or "0.0.0.0", int(port)


@click.command(
    help="Publish this node's NUMA capacity (VEP 135 annotations) on its Node (DaemonSet).\n\n"
    "Also the realtime label and the capabilities XML, and with --publish-nrt the node's "
    "NodeResourceTopology; re-discover every --interval seconds and on SIGHUP."
)
@click.option("--node-name", envvar="NODE_NAME", default="", help="This node's name [env NODE_NAME].")
@click.option("--interval", type=float, default=60.0, show_default=True, help="Seconds between discoveries.")
@click.option("--once", is_flag=True, help="One cycle, then exit (0 published, 1 failed).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the Node patch that would be sent (-o json|yaml), send nothing, exit.",
)
@click.option(
    "--sysfs", "sysfs_root", type=click.Path(path_type=Path), default=Path("/sys"), show_default=True
)
@click.option(
    "--proc", "proc_root", type=click.Path(path_type=Path), default=Path("/proc"), show_default=True
)
@click.option("--libvirt", "libvirt_uri", default=None, help="Discover through libvirt at this URI instead.")
@click.option(
    "--capabilities-out",
    type=click.Path(path_type=Path),
    default=Path("/var/lib/kvnuma/capabilities.xml"),
    show_default=True,
    help="Where to write the host capabilities XML ('' to skip).",
)
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None, help="Use this kubeconfig.")
@click.option("--server", default=None, help="API server URL (tests); overrides in-cluster config.")
@click.option(
    "--listen", default="0.0.0.0:8080", show_default=True, help="HOST:PORT for /healthz and /metrics."
)
@click.option("--max-attempts", type=int, default=8, show_default=True, help="API attempts per cycle.")
@click.option(
    "--publish-nrt",
    is_flag=True,
    help="Also publish this node's NodeResourceTopology (topology.node.k8s.io/v1alpha2); needs "
    "--podresources-socket readable (no NRT is published without it).",
)
@click.option(
    "--podresources-socket",
    default="/var/lib/kubelet/pod-resources/kubelet.sock",
    show_default=True,
    help="The kubelet's podresources socket (--publish-nrt).",
)
@click.option(
    "--podresources-timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds per podresources read.",
)
@click.option(
    "--kubelet-config",
    default="/var/lib/kubelet/config.yaml",
    show_default=True,
    help="The kubelet's KubeletConfiguration, for the topologyManagerPolicy/Scope attributes "
    "(--publish-nrt; '' to leave them out).",
)
@output_option("json", "yaml")
def agent(  # click passes every option by keyword
    *,
    node_name: str,
    interval: float,
    once: bool,
    dry_run: bool,
    sysfs_root: Path,
    proc_root: Path,
    libvirt_uri: str | None,
    capabilities_out: Path,
    kubeconfig: Path | None,
    server: str | None,
    listen: str,
    max_attempts: int,
    publish_nrt: bool,
    podresources_socket: str,
    podresources_timeout: float,
    kubelet_config: str,
    output: str,
) -> None:
    from kvnuma.agent.core import Agent, AgentSettings
    from kvnuma.agent.desired import node_patch
    from kvnuma.agent.discovery import capabilities_renderer, make_discovery
    from kvnuma.kube.client import KubeClient
    from kvnuma.kube.config import load_config

    if not node_name:
        raise InputError("--node-name", "no node name (set --node-name or NODE_NAME)")
    if interval <= 0:
        raise InputError("--interval", f"must be positive, got {interval}")
    if podresources_timeout <= 0:
        raise InputError("--podresources-timeout", f"must be positive, got {podresources_timeout}")
    settings = AgentSettings(
        node_name=node_name,
        proc_root=proc_root,
        capabilities_out=None if dry_run or str(capabilities_out) in ("", ".") else capabilities_out,
        interval=interval,
        max_attempts=max(1, max_attempts),
        publish_nrt=publish_nrt,
    )
    discover = make_discovery(sysfs_root, libvirt_uri)
    if dry_run:
        probe = Agent(settings, discover, None)
        _topology, want = probe.desired_now()

        async def current() -> dict[str, object]:
            if not (server or kubeconfig):
                return {}
            from kvnuma.kube.resources import NODES

            async with KubeClient(load_config(server=server, kubeconfig=kubeconfig)) as client:
                return await client.get(NODES, node_name)

        patch = node_patch(asyncio.run(current()), want)
        emit(patch, output)
        return
    config = load_config(server=server, kubeconfig=kubeconfig)
    host, port = _listen(listen)

    async def main() -> int:
        async with KubeClient(config, user_agent="kvnuma-agent") as client:
            worker = Agent(
                settings,
                discover,
                client,
                render_capabilities=capabilities_renderer(),
                **nrt_sources(podresources_socket, podresources_timeout, kubelet_config),
            )
            if once:
                return 0 if (await worker.cycle()).ok else 1
            from aiohttp import web

            from kvnuma.agent.http import health_app

            runner = web.AppRunner(health_app(worker), handle_signals=False)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as error:
                await runner.cleanup()
                raise InputError(f"--listen {listen}", bind_problem(error)) from error
            worker.log.info("listening", address=f"{host}:{port}", interval=interval)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, worker.wake.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
            try:
                await worker.run(stop)
            finally:
                await runner.cleanup()
            worker.log.info("stopped")
            return 0

    sys.exit(asyncio.run(main()))


def nrt_sources(socket: str, timeout: float, kubelet_config: str) -> dict[str, Any]:
    """The agent's podresources reader and topology-manager source (--publish-nrt)."""
    from kvnuma.agent.kubelet_config import read_topology_manager
    from kvnuma.agent.podresources import read_kubelet_resources
    from kvnuma.topology.nrt import TopologyManager

    def read_kubelet() -> KubeletResources:
        return read_kubelet_resources(socket, timeout=timeout)

    def topology_manager() -> tuple[TopologyManager, str]:
        if not kubelet_config:
            return TopologyManager(), "--kubelet-config '': topology-manager attributes left out"
        return read_topology_manager(Path(kubelet_config))

    return {"read_kubelet": read_kubelet, "topology_manager": topology_manager}
