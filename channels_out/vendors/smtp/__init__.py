"""E-mail through a real SMTP server with Django's e-mail machinery, open tracking and bounces."""
