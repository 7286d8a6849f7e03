"""Images: decode and encode, operations, one pipeline, pure-Python kernels, samples."""
