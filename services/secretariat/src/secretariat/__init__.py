"""The secretariat service: keeps the Centre, sections and delegates informed."""
