"""The Array API signature stubs, 2025.12 only (vendored; see third_party/README.md)."""
