"""An RCS vendor in the shape of Google's RCS Business Messaging (RBM) API."""
