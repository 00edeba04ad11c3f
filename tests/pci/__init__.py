"""PCI placement tests and their builders (fake sysfs trees, domain XML)."""
