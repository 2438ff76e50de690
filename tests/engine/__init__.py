"""Engine-level test support: drive a Pulumi Python dynamic provider over gRPC, without the CLI."""
