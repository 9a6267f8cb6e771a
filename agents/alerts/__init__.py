"""An alert's life in the customer's state: first-response SLAs and their cases, the gate, operators' actions."""
