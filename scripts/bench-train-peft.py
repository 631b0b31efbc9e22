#!/usr/bin/env python3
"""CPU training throughput of HF transformers + peft at SmolLM2-135M's shape, to compare with
`cyllm train --bench` (issue 8, "CPU, 2 cores: at least 2x PyTorch + peft on the same machine").

Random weights (no download): LlamaForCausalLM with SmolLM2-135M's config in float32, LoRA r=R on
all seven projections, batch B x S random tokens, all labels trained, AdamW; the first step is a
warm-up. Prints one JSON object. Run the engine side with the same numbers:
    build/app/cli/cyllm train --bench -m models/SmolLM2-135M-Instruct.Q4_1.gguf --batch B --seq S --rank R
usage: .venv/bin/python scripts/bench-train-peft.py [--batch 2] [--seq 128] [--rank 16] [--steps 3]
       [--threads N] [--checkpointing] [--bf16]
--bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (PyTorch's CPU
mixed precision: matmuls in bf16, LoRA weights and optimiser in float32), the counterpart of
the engine's "precision": "bf16"."""
import argparse
import contextlib
import json
import resource
import time

import torch
import transformers
import peft

SMOLLM2_135M = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, rope_theta=100000.0, rms_norm_eps=1e-5,
                    max_position_embeddings=8192, tie_word_embeddings=True, hidden_act="silu")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--checkpointing", action="store_true")
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SMOLLM2_135M, attn_implementation="sdpa"))
    if a.checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = peft.get_peft_model(model, peft.LoraConfig(
        r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for _ in range(a.steps + 1):
        ids = torch.randint(0, SMOLLM2_135M["vocab_size"], (a.batch, a.seq))
        t0 = time.monotonic()
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()
        with amp:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.monotonic() - t0)
    timed = sum(times[1:])
    print(json.dumps({"framework": f"torch {torch.__version__} + transformers {transformers.__version__} + peft {peft.__version__}",
                      "batch": a.batch, "seq": a.seq, "rank": a.rank, "threads": torch.get_num_threads(),
                      "gradient_checkpointing": a.checkpointing, "precision": "bf16-autocast" if a.bf16 else "f32",
                      "steps_timed": a.steps,
                      "tokens_per_s": a.batch * a.seq * a.steps / timed, "step_s": timed / a.steps,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
