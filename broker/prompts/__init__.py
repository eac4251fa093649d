"""The prompt registry: versioned templates, strict rendering, experiments and outcome reports."""
