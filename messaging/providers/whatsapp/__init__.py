"""WhatsApp through a generic provider (MSG91): templates, template sends."""
