"""sglike.kernels: attention kernels (Triton) and their pure-torch references."""
