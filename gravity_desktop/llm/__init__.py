"""On-device language models: the registry, downloads, GGUF checks and the llama.cpp engine.

Nothing here imports torch; importing this package is cheap (llama_cpp is imported on first use).
"""
