#include "workbench/screenshots.h"

#include <cmath>
#include <cstdio>
#include <functional>

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QListWidget>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSettings>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include "model/adapter-io.h"
#include "train/checkpoint.h"
#include "ui/chat-panel.h"
#include "ui/datasets-panel.h"
#include "ui/live-chart.h"
#include "ui/lora-panel.h"
#include "ui/main-window.h"
#include "ui/metrics-panel.h"
#include "ui/server-panel.h"
#include "ui/settings-panel.h"
#include "ui/training-panel.h"
#include "workbench/engine-host.h"
#include "workbench/server-host.h"

namespace cyllm::workbench {

namespace {

// Runs the event loop until done() or the timeout; false on timeout.
bool waitFor(const std::function<bool()>& done, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    if (t.elapsed() > timeout_ms) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(5);
  }
  return true;
}

void settle(int ms = 200) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < ms) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
}

void writeFile(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  if (f.open(QIODevice::WriteOnly)) f.write(bytes);
}

// A small alpaca-style dataset of varied lengths with a few typical mistakes.
QByteArray demoDataset() {
  QByteArray d;
  const char* topics[] = {"continuous batching", "a paged KV cache", "LoRA adapters", "prefix caching", "top-p sampling",
                          "gradient accumulation", "learning-rate warmup", "early stopping", "quantisation to 4 bits",
                          "chat templates", "rate limiting", "audit logs"};
  int n = 0;
  for (const char* t : topics) {
    for (int len : {1, 3, 9}) {
      QByteArray out = "Here is a short explanation of " + QByteArray(t) + ".";
      for (int k = 1; k < len; ++k) out += " It matters because systems that use it behave better under load (point " + QByteArray::number(k) + ").";
      d += R"({"instruction": "Explain )" + QByteArray(t) + R"( in )" + QByteArray::number(len) + R"( sentences.", "input": "", "output": ")" + out + "\"}\n";
      ++n;
    }
  }
  d += R"({"instruction": "Name the capital of Japan.", "output": 42})" "\n";
  d += R"({"instruction": "", "input": "", "output": "An answer without a question."})" "\n";
  d += R"({"instruction": "Unclosed row", "output": "oops")" "\n";
  d += R"({"instruction": "Explain prefix caching in 1 sentences.", "input": "", "output": "Here is a short explanation of prefix caching."})" "\n";
  return d;
}

}  // namespace

int runScreenshots(const QString& dir, const QString& model_path, const QString& lang) {
  if (!QDir().mkpath(dir)) {
    std::fprintf(stderr, "cyllm-workbench: cannot create %s\n", qPrintable(dir));
    return 2;
  }
  QTemporaryDir tmp;
  QSettings::setDefaultFormat(QSettings::IniFormat);
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, tmp.filePath(QStringLiteral("settings")));
  qputenv("CYLLM_DATA_DIR", tmp.filePath(QStringLiteral("data")).toLocal8Bit());

  ui::MainWindow w(tmp.filePath(QStringLiteral("data")));
  w.resize(1360, 860);
  if (!lang.isEmpty() && lang != QLatin1String("en") && !w.settings()->setLanguage(lang)) {
    std::fprintf(stderr, "cyllm-workbench: unknown language %s\n", qPrintable(lang));
    return 2;
  }
  const QString suffix = lang.isEmpty() || lang == QLatin1String("en") ? QString() : QLatin1Char('-') + lang;
  w.show();

  const QString model = model_path.isEmpty() ? ui::MainWindow::findDefaultModel() : model_path;
  if (!model.isEmpty()) {
    w.openModel(model);
    if (!waitFor([&] { return w.engine()->hasModel() || !w.engine()->loading(); }, 120000) || !w.engine()->hasModel())
      std::fprintf(stderr, "cyllm-workbench: could not load %s; pictures without a model\n", qPrintable(model));
  } else {
    std::fprintf(stderr, "cyllm-workbench: no model found (scripts/fetch-model.sh); pictures without a model\n");
  }
  const bool have_model = w.engine()->hasModel();

  // Chat: a real answer.
  if (have_model) {
    w.showPanel(ui::MainWindow::kChat);
    ChatParams p;
    p.temperature = 0;
    p.top_p = 1;
    p.top_k = 0;
    p.max_tokens = 120;
    w.chat()->setParams(p);
    w.chat()->setSystemPrompt(QStringLiteral("You are a helpful assistant. Answer in Markdown."));
    // Side by side: greedy (A) against a creative sampling setting (B), in one batch.
    w.chat()->setCompare(true);
    ChatParams pb = p;
    pb.temperature = 1.0;
    pb.top_p = 0.98;
    pb.top_k = 100;
    pb.seed = 11;
    w.chat()->setParamsB(pb);
    w.chat()->send(QStringLiteral("Give me three tips for writing clear commit messages, as a list."));
    waitFor([&] { return !w.chat()->generating(); }, 120000);
  }

  // Datasets: a demo file with problems; the first problem's row shown.
  const QString ds = tmp.filePath(QStringLiteral("instructions-demo.jsonl"));
  writeFile(ds, demoDataset());
  w.datasets()->setCutoff(160);
  w.datasets()->openDataset(ds);
  waitFor([&] { return !w.datasets()->busy(); }, 60000);
  w.datasets()->problemsTable()->selectRow(0);
  waitFor([&] { return !w.datasets()->busy(); }, 60000);

  // Training: the form filled in, two queued jobs and a progress curve as the trainer reports it.
  const QString out = tmp.filePath(QStringLiteral("runs/demo"));
  QDir().mkpath(out);
  w.training()->setField(QStringLiteral("model"), have_model ? model : tmp.filePath(QStringLiteral("missing.gguf")));
  w.training()->setField(QStringLiteral("dataset"), ds);
  w.training()->setField(QStringLiteral("output_dir"), out);
  w.training()->submitJob();
  w.training()->submitJob();
  for (int s = 1; s <= 300; ++s) {
    train::TrainEvent e;
    e.step = s;
    e.total_steps = 300;
    e.epoch = s / 300.0;
    e.loss = 0.55 + 1.9 * std::exp(-s / 60.0) + 0.06 * std::sin(s * 0.7) * std::exp(-s / 200.0);
    e.lr = 2e-4 * (s < 20 ? s / 20.0 : 0.5 * (1 + std::cos(M_PI * (s - 20) / 280.0)));
    e.grad_norm = 0.4 + 1.5 * std::exp(-s / 40.0);
    e.tokens_per_s = 52 + 3 * std::sin(s * 0.04);
    e.eta_s = (300 - s) * 2.4;
    if (s % 25 == 0) e.eval_loss = 0.62 + 1.8 * std::exp(-s / 65.0);
    w.training()->addProgress(e);
  }

  // Training's checkpoint list: the demo run's checkpoints (as the trainer writes them).
  {
    CheckpointStore store(QDir(out).filePath(QStringLiteral("checkpoints")).toStdString());
    for (int s = 100; s <= 300; s += 100) {
      CheckpointState st;
      st.step = s;
      st.epoch = s / 300;
      st.loss = 0.55 + 1.9 * std::exp(-s / 60.0);
      st.eval_loss = 0.62 + 1.8 * std::exp(-s / 65.0) + (s == 300 ? 0.02 : 0.0);
      if (!store.write(st, {{"adapter.bin", std::string(4096, '\0')}, {"optimizer.bin", std::string(8192, '\0')}}))
        std::fprintf(stderr, "cyllm-workbench: could not write a demo checkpoint\n");
    }
    if (auto* jobs = w.training()->findChild<QTableWidget*>(QStringLiteral("jobs")); jobs && jobs->rowCount() > 0) jobs->selectRow(0);
  }

  // LoRA: a folder with PEFT adapters and a GGUF LoRA file; with a model, real adapters for it
  // (one recorded with another chat template, so its provenance warning shows), two of them loaded.
  const QString adapters = tmp.filePath(QStringLiteral("adapters"));
  if (have_model) {
    const ModelConfig& c = w.engine()->model()->config();
    AdapterMeta meta;
    meta.arch = c.arch;
    meta.base_model = "HuggingFaceTB/SmolLM2-135M-Instruct";
    AdapterMeta other = meta;
    other.provenance = make_adapter_provenance("{% for m in messages %}{{ m.content }}{% endfor %}", 0, std::string("<|endoftext|>"));
    const bool ok = save_peft_adapter((adapters + QStringLiteral("/support-bot-r16")).toStdString(), LoraAdapter::random(c, 16, 32.0f, 1), meta, c) &&
                    save_peft_adapter((adapters + QStringLiteral("/sql-helper-r8")).toStdString(), LoraAdapter::random(c, 8, 16.0f, 2), other, c) &&
                    save_gguf_adapter((adapters + QStringLiteral("/identity-r8.gguf")).toStdString(), LoraAdapter::random(c, 8, 16.0f, 3), meta, c);
    if (!ok) std::fprintf(stderr, "cyllm-workbench: could not write the demo adapters\n");
    w.lora()->setFolder(adapters);
    w.lora()->loadAdapter(adapters + QStringLiteral("/support-bot-r16"), true);
    w.lora()->loadAdapter(adapters + QStringLiteral("/sql-helper-r8"), false);
  } else {
    QDir().mkpath(adapters + QStringLiteral("/support-bot-r16"));
    writeFile(adapters + QStringLiteral("/support-bot-r16/adapter_config.json"),
              R"({"r": 16, "lora_alpha": 32, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"})");
    w.lora()->setFolder(adapters);
  }
  if (auto* t = w.lora()->findChild<QTableWidget*>(QStringLiteral("adapters")); t && t->rowCount() > 0) t->selectRow(0);

  // Metrics: one minute of a steady load, as the panel samples it.
  w.metrics()->setSampling(false);
  w.metrics()->clear();
  for (int i = 0; i < 60; ++i) {
    ui::MetricsSample m;
    m.t_s = i;
    const double load = 1 + 0.5 * std::sin(i / 7.0);
    auto pct = [&](double base) {
      PercentileSummary s;
      s.count = 20;
      s.p50 = base * load;
      s.p95 = base * load * 1.8;
      s.p99 = base * load * 2.6;
      return s;
    };
    m.queue = pct(3);
    m.ttft = pct(45);
    m.inter_token = pct(5.5);
    m.total = pct(900);
    m.tokens_per_s = 180 * load;
    m.hit_rate = std::min(0.85, 0.1 + i * 0.015);
    m.running = 4;
    m.waiting = i % 7 == 0 ? 2 : 0;
    m.kv_used = 120 + i;
    m.kv_total = 1024;
    w.metrics()->addSample(m);
  }

  // Server: on, one key, and real requests in the log.
  QNetworkAccessManager net;
  if (have_model) {
    w.serverPanel()->setAddress(QStringLiteral("127.0.0.1"), 0);
    const QString err = w.serverPanel()->setServing(true);
    if (!err.isEmpty()) std::fprintf(stderr, "cyllm-workbench: server: %s\n", qPrintable(err));
    const QString key = w.serverPanel()->createKey(QStringLiteral("demo-team"), 90, false);
    w.serverPanel()->createKey(QStringLiteral("ci"), 0, false);
    int pending = 0;
    auto send = [&](const QString& path, const QByteArray& body, bool auth) {
      QNetworkRequest r(QUrl(w.server()->url() + path));
      r.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
      if (auth) r.setRawHeader("Authorization", "Bearer " + key.toUtf8());
      QNetworkReply* rep = body.isEmpty() ? net.get(r) : net.post(r, body);
      ++pending;
      QObject::connect(rep, &QNetworkReply::finished, rep, [&pending, rep] {
        --pending;
        rep->deleteLater();
      });
    };
    if (w.server()->running()) {
      send(QStringLiteral("/v1/models"), {}, true);
      send(QStringLiteral("/v1/chat/completions"),
           QByteArray(R"({"model":")") + QFileInfo(model).completeBaseName().toUtf8() +
               R"(","messages":[{"role":"user","content":"Say hi"}],"max_tokens":8})",
           true);
      send(QStringLiteral("/v1/models"), {}, false);
      waitFor([&] { return pending == 0; }, 60000);
      w.serverPanel()->pollLog();
    }
  }

  int written = 0;
  for (int p = 0; p < ui::MainWindow::kPanelCount; ++p) {
    w.showPanel(static_cast<ui::MainWindow::Panel>(p));
    settle(250);
    for (auto* c : w.findChildren<ui::LiveChart*>()) c->flush();
    settle(50);
    const QString file = QDir(dir).filePath(ui::MainWindow::panelKey(static_cast<ui::MainWindow::Panel>(p)) + suffix +
                                                  QStringLiteral(".png"));
    if (w.grab().save(file)) {
      ++written;
      std::fprintf(stderr, "wrote %s\n", qPrintable(file));
    } else {
      std::fprintf(stderr, "cyllm-workbench: could not write %s\n", qPrintable(file));
    }
  }
  w.close();
  return written == ui::MainWindow::kPanelCount ? 0 : 1;
}

}  // namespace cyllm::workbench
