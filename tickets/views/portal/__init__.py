"""The client portal: where end users open, follow, answer and close their tickets."""
