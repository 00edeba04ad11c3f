"""A Kubernetes API test server (see ``kubeapi.server``)."""
