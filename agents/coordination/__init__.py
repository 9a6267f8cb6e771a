"""Where the partitions meet: warning digests across queues and the best-customer threshold across the population."""
