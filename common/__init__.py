"""The bottom layer every app may import: nothing in here imports a project app."""
