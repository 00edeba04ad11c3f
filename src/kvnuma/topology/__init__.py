"""Readers and writers of a host's NUMA topology.

    sysfs           a Linux sysfs tree (pure parser over a reader, plus ``read_sysfs`` for a folder)
    capabilities    libvirt's ``virsh capabilities`` XML, both ways
    libvirt_host    a running libvirt (libvirt-python when importable, else ``virsh``)
    jsonform        the documented JSON form printed by ``kvnuma discover -o json``

Everything here returns a ``kvnuma.model.HostTopology`` or raises ``InputError``.
"""
