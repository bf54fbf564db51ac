"""The Neo Service Layer consumer library for neo3-boa contracts (imported as ``lib.<module>``)."""
