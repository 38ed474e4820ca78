"""The verification harness: the virtual-time event loop and tools built on it."""
