"""On-device LoRA DPO fine-tuning and llama.cpp adapter export.

Only `base_model.py` and `dpo_worker.py` import torch, transformers, peft or trl, and they run in a
worker process (`python -m gravity_desktop.training.dpo_worker`); everything else here is safe to
import in the GUI.
"""
