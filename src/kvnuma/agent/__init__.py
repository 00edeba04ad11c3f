"""The node agent: publishes this node's NUMA capacity on its Node object (VEP 135)."""
