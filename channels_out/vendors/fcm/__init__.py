"""A push vendor in the shape of Firebase Cloud Messaging HTTP v1."""
