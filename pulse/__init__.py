"""Pulse: analytics and social auto-poster for the platform's city chapters."""
