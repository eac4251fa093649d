"""The scheduler: moves jobs from team queues to provider queues when admission allows."""
