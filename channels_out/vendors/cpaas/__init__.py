"""A CPaaS vendor in the shape of the seed 004 (BICS) API: SMS, Viber, WhatsApp and TTS voice."""
