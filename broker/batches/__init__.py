"""The OpenAI-compatible Batch API: uploaded files, batches expanded into ordinary jobs, and
the keeper that expires, cancels and finalizes them into output and error files."""
