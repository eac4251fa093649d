"""Token-aware admission: which buckets a job draws on, their arithmetic, and fair share."""
