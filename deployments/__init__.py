"""How somearkiv runs: the CLI, the embedded services, the demo, deployments."""
