"""Provider adapters: one per wire protocol, each mapping to and from the OpenAI shape."""
