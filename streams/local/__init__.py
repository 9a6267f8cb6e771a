"""The product on one machine: the embedded broker and the processes `touchpoint run` supervises."""
