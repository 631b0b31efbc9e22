// The LoRA manager lists the adapters in a folder (PEFT folders and GGUF LoRA files with their
// rank, alpha and base; GGUF files that are not adapters and broken files are left out) and, over
// the real engine with the default model: loads them (the chat and the server see the same
// registry), keeps at most "max resident" in memory, unloads, marks provenance mismatches naming
// both template hashes, exports PEFT <-> GGUF without changing a weight, and merges into the base.
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTest>

#include "model/adapter-io.h"
#include "model/gguf-file-writer.h"
#include "model/gguf-reader.h"
#include "serve/adapter-registry.h"
#include "ui-test-env.h"
#include "ui/chat-panel.h"
#include "ui/lora-panel.h"
#include "ui/main-window.h"
#include "workbench/engine-host.h"

using namespace cyllm;

class LoraTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

  static void write(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
  }

 private slots:
  void listsAdaptersWithTheirSettings() {
    const QString dir = env_.path(QStringLiteral("adapters"));
    write(dir + QStringLiteral("/peft-r16/adapter_config.json"),
          "{\"r\": 16, \"lora_alpha\": 32, \"base_model_name_or_path\": \"HuggingFaceTB/SmolLM2-135M-Instruct\"}");
    GgufFileWriter lora;
    lora.add_string("general.type", "adapter");
    lora.add_string("adapter.type", "lora");
    lora.add_string("general.architecture", "llama");
    lora.add_f32("adapter.lora.alpha", 8);
    QVERIFY(lora.add_tensor("blk.0.attn_v.weight.lora_a", {64, 4}, std::vector<float>(256, 0.5f)).ok());
    QVERIFY(lora.add_tensor("blk.0.attn_v.weight.lora_b", {4, 64}, std::vector<float>(256, 0.0f)).ok());
    QVERIFY(lora.write((dir + QStringLiteral("/tiny-r4.gguf")).toStdString()).ok());
    GgufFileWriter model;  // a model, not an adapter
    model.add_string("general.type", "model");
    model.add_string("general.architecture", "llama");
    QVERIFY(model.write((dir + QStringLiteral("/base.gguf")).toStdString()).ok());
    write(dir + QStringLiteral("/broken.gguf"), "GGUF but not really");

    ui::LoraPanel p(nullptr);
    p.setFolder(dir);
    QCOMPARE(p.adapterCount(), 2);
    auto* t = p.findChild<QTableWidget*>(QStringLiteral("adapters"));
    QMap<QString, QStringList> rows;
    for (int r = 0; r < t->rowCount(); ++r)
      rows[t->item(r, 0)->text()] = {t->item(r, 1)->text(), t->item(r, 2)->text(), t->item(r, 3)->text(), t->item(r, 4)->text()};
    QCOMPARE(rows.value(QStringLiteral("peft-r16")),
             QStringList({QStringLiteral("PEFT"), QStringLiteral("16"), QStringLiteral("32"),
                          QStringLiteral("HuggingFaceTB/SmolLM2-135M-Instruct")}));
    QCOMPARE(rows.value(QStringLiteral("tiny-r4")),
             QStringList({QStringLiteral("GGUF LoRA"), QStringLiteral("4"), QStringLiteral("8"), QStringLiteral("llama")}));
  }

  void managesAdaptersOverTheEngine() {
    CYLLM_UI_REQUIRE_MODEL(model);
    ui::MainWindow w(env_.dataDir());
    w.openModel(model);
    QVERIFY(test::waitUntil([&] { return w.engine()->hasModel(); }, 60000));
    const ModelConfig& c = w.engine()->model()->config();
    const QString dir = env_.path(QStringLiteral("managed"));
    // Two PEFT adapters; the second records another chat template than the model's.
    AdapterMeta meta;
    meta.arch = c.arch;
    QVERIFY(static_cast<bool>(save_peft_adapter((dir + QStringLiteral("/alpha")).toStdString(), LoraAdapter::random(c, 4, 8.0f, 1), meta, c)));
    AdapterMeta other = meta;
    other.provenance = make_adapter_provenance("{{ messages }}", 2, std::string("<|im_end|>"));
    QVERIFY(static_cast<bool>(save_peft_adapter((dir + QStringLiteral("/beta")).toStdString(), LoraAdapter::random(c, 4, 8.0f, 2), other, c)));

    ui::LoraPanel* p = w.lora();
    p->setFolder(dir);
    QCOMPARE(p->adapterCount(), 2);
    auto* disk = p->findChild<QTableWidget*>(QStringLiteral("adapters"));
    auto* loaded = p->findChild<QTableWidget*>(QStringLiteral("loaded"));
    auto selectDisk = [&](const QString& name) {
      for (int r = 0; r < disk->rowCount(); ++r)
        if (disk->item(r, 0)->text() == name) disk->selectRow(r);
    };
    auto loadedRow = [&](const QString& name) {
      for (int r = 0; r < loaded->rowCount(); ++r)
        if (loaded->item(r, 0)->text() == name) return r;
      return -1;
    };

    // Load with the button: registered with the engine, offered by the chat, served by name.
    QVERIFY(!p->findChild<QPushButton*>(QStringLiteral("load"))->isEnabled());  // nothing selected
    selectDisk(QStringLiteral("alpha"));
    QTest::mouseClick(p->findChild<QPushButton*>(QStringLiteral("load")), Qt::LeftButton);
    QVERIFY2(loadedRow(QStringLiteral("alpha")) >= 0, qPrintable(p->statusText()));
    QVERIFY(w.engine()->adapterRegistry()->contains("alpha"));
    QVERIFY(w.chat()->selectAdapter(QStringLiteral("alpha")));
    QCOMPARE(loaded->item(loadedRow(QStringLiteral("alpha")), 3)->text(), QStringLiteral("yes"));

    // One resident at most: preloading beta evicts the idle alpha (still registered).
    p->findChild<QSpinBox*>(QStringLiteral("max_resident"))->setValue(1);
    QCOMPARE(w.engine()->adapterRegistry()->max_resident(), 1);
    selectDisk(QStringLiteral("beta"));
    QTest::mouseClick(p->findChild<QPushButton*>(QStringLiteral("preload")), Qt::LeftButton);
    QVERIFY(loadedRow(QStringLiteral("beta")) >= 0);
    QCOMPARE(loaded->item(loadedRow(QStringLiteral("alpha")), 3)->text(), QStringLiteral("no"));
    QCOMPARE(loaded->item(loadedRow(QStringLiteral("beta")), 3)->text(), QStringLiteral("yes"));
    QCOMPARE(w.engine()->adapterRegistry()->resident_count(), 1);

    // Provenance: beta is marked; the message names both template hashes.
    const AdapterProvenance server = w.engine()->adapterRegistry()->options().server;
    QVERIFY(!server.chat_template_sha256.empty());
    const QString tip = loaded->item(loadedRow(QStringLiteral("beta")), 0)->toolTip();
    QVERIFY2(tip.contains(QString::fromStdString(other.provenance.chat_template_sha256.substr(0, 12))), qPrintable(tip));
    QVERIFY2(tip.contains(QString::fromStdString(server.chat_template_sha256.substr(0, 12))), qPrintable(tip));
    QVERIFY(loaded->item(loadedRow(QStringLiteral("alpha")), 0)->toolTip().isEmpty());
    QVERIFY(p->statusText().contains(QStringLiteral("warning")));

    // Unload with the button.
    loaded->selectRow(loadedRow(QStringLiteral("alpha")));
    QTest::mouseClick(p->findChild<QPushButton*>(QStringLiteral("unload")), Qt::LeftButton);
    QCOMPARE(loadedRow(QStringLiteral("alpha")), -1);
    QVERIFY(!w.engine()->adapterRegistry()->contains("alpha"));
    QVERIFY(!w.chat()->selectAdapter(QStringLiteral("alpha")));

    // Export PEFT -> GGUF -> PEFT: the weights survive exactly (f32 both ways).
    QCOMPARE(p->exportAdapter(dir + QStringLiteral("/alpha"), dir + QStringLiteral("/alpha.gguf"), true), QString());
    QCOMPARE(p->adapterCount(), 3);  // the new file is in the folder: listed
    QCOMPARE(p->exportAdapter(dir + QStringLiteral("/alpha.gguf"), env_.path(QStringLiteral("alpha-again")), false), QString());
    auto a0 = load_adapter((dir + QStringLiteral("/alpha")).toStdString(), c);
    auto a1 = load_adapter((dir + QStringLiteral("/alpha.gguf")).toStdString(), c);
    auto a2 = load_adapter(env_.path(QStringLiteral("alpha-again")).toStdString(), c);
    QVERIFY(a0.ok() && a1.ok() && a2.ok());
    QCOMPARE(a1->format, AdapterFormat::kGguf);
    QCOMPARE(a1->adapter.scale, a0->adapter.scale);
    for (size_t l = 0; l < a0->adapter.layers.size(); ++l)
      for (size_t t = 0; t < a0->adapter.layers[l].size(); ++t) {
        QCOMPARE(a1->adapter.layers[l][t].b, a0->adapter.layers[l][t].b);
        QCOMPARE(a2->adapter.layers[l][t].a, a0->adapter.layers[l][t].a);
        QCOMPARE(a2->adapter.layers[l][t].b, a0->adapter.layers[l][t].b);
      }
    QVERIFY(!p->exportAdapter(dir + QStringLiteral("/no-such"), env_.path(QStringLiteral("x.gguf")), true).isEmpty());

    // Merge into the base on a worker thread: a standalone GGUF that records the merge.
    QSignalSpy merged(p, &ui::LoraPanel::mergeFinished);
    const QString out = env_.path(QStringLiteral("merged.gguf"));
    QCOMPARE(p->startMerge(dir + QStringLiteral("/alpha"), out), QString());
    QVERIFY(p->merging());
    QVERIFY(test::waitUntil([&] { return merged.count() == 1; }, 120000));
    QCOMPARE(merged.at(0).at(0).toString(), QString());
    auto g = GgufFile::open(out.toStdString());
    QVERIFY(g.ok());
    QCOMPARE(QString::fromStdString(g->get_string("cyllm.merged_lora.name").value_or("")), QStringLiteral("alpha"));
    QVERIFY(p->statusText().contains(out));
  }
};

QTEST_MAIN(LoraTest)
#include "ui-lora-test.moc"
