//! Local volumes: the `local-path` StorageClass, its provisioner, and PV/PVC binding.
