"""Provider transports behind one interface (see messaging/providers/base.py)."""
