"""Failed jobs, kept where an operator can see them and send them round again."""
