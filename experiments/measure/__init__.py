"""Measuring one run: the executor, the wrapper loaded by the server, memory, traffic and processes."""
