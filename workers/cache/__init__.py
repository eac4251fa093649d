"""The cache worker: embeds prompts, keeps vectors in Chroma, answers lookups before admission
and stores provider answers after them. Only this process loads torch and opens Chroma."""
