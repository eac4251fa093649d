"""The ``llm-broker`` command line."""
