"""What people read: figures and the HTML report. Builds on analysis and below."""
