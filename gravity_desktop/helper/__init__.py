"""The opt-in GPU helper: a small HTTPS service that trains a reader's LoRA on another machine.

It runs the same worker as on-device training (`gravity_desktop.training.dpo_worker`, in a child
process) and the same llama.cpp export, and hands back the adapter with its sha256; the desktop
checks it and activates it exactly as after local training. This process itself imports FastAPI,
uvicorn and gguf-py (for the export) but never torch or llama_cpp, so a GPU box needs only the
training stack and the `helper` extra.
"""
