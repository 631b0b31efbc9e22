// The LoRA manager (skeleton) lists the adapters in a folder: PEFT folders and GGUF LoRA files
// with their rank, alpha and base; GGUF files that are not adapters and broken files are left out.
#include <QDir>
#include <QFile>
#include <QTableWidget>
#include <QTest>

#include "model/gguf-file-writer.h"
#include "ui-test-env.h"
#include "ui/lora-panel.h"

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

    ui::LoraPanel p;
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
};

QTEST_MAIN(LoraTest)
#include "ui-lora-test.moc"
