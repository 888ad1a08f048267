"""The e-mail channel: notifications as multipart messages over SMTP."""
