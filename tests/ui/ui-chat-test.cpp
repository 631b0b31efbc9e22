// The Chat panel over the real engine: typing a message streams an answer into the transcript in
// batches; stop, regenerate and edit-and-resend; the conversation is kept in SQLite.
#include <QComboBox>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>
#include <QToolButton>

#include "model/adapter-io.h"
#include "ui-test-env.h"
#include "ui/chat-panel.h"
#include "ui/chat-view.h"
#include "ui/live-chart.h"
#include "ui/main-window.h"
#include "ui/metrics-panel.h"
#include "workbench/chat-store.h"
#include "workbench/engine-host.h"

using namespace cyllm;

class ChatTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;
  std::unique_ptr<ui::MainWindow> w_;
  QString model_;

  ui::ChatPanel* chat() { return w_->chat(); }
  QPushButton* button(const char* name) { return chat()->findChild<QPushButton*>(QLatin1String(name)); }

 private slots:
  void init() {
    CYLLM_UI_REQUIRE_MODEL(model);
    w_ = std::make_unique<ui::MainWindow>(env_.dataDir());
    w_->show();
    w_->chat()->newConversation();
    w_->openModel(model);
    model_ = model;
    QVERIFY(test::waitUntil([&] { return w_->engine()->hasModel(); }, 60000));
    workbench::ChatParams p;
    p.temperature = 0;
    p.top_k = 0;
    p.top_p = 1;
    p.max_tokens = 40;
    chat()->setParams(p);
  }
  void cleanup() { w_.reset(); }

  void typedMessageStreamsAnswer() {
    // The model picker shows the loaded model first (the recent list is kept in the settings).
    auto* models = chat()->findChild<QComboBox*>(QStringLiteral("models"));
    QCOMPARE(models->currentData().toString(), model_);
    QCOMPARE(QSettings().value(QStringLiteral("model/recent")).toStringList().value(0), model_);
    QSignalSpy text(w_->engine(), &workbench::EngineHost::textArrived);
    QSignalSpy done(w_->engine(), &workbench::EngineHost::generationFinished);
    auto* input = chat()->findChild<QPlainTextEdit*>(QStringLiteral("input"));
    QVERIFY(input);
    QTest::keyClicks(input, QStringLiteral("What is the capital of France?"));
    QTest::mouseClick(button("send"), Qt::LeftButton);
    QVERIFY(chat()->generating());
    QCOMPARE(chat()->view()->messages().size(), 2);
    ui::MessageView* answer = chat()->view()->messages().last();
    QCOMPARE(answer->role(), QStringLiteral("assistant"));
    // Text shows up while the request is still running: it streams.
    bool seen_while_running = false;
    QVERIFY(test::waitUntil([&] {
      if (chat()->generating() && !answer->renderedText().isEmpty()) seen_while_running = true;
      return !chat()->generating();
    }, 120000));
    QVERIFY2(seen_while_running, "no text appeared before the answer finished");
    QCOMPARE(done.count(), 1);
    const auto stats = done.first().at(1).value<workbench::GenerationStats>();
    QVERIFY2(stats.error.isEmpty(), qPrintable(stats.error));
    QVERIFY(stats.completion_tokens > 0);
    QVERIFY(stats.ttft_ms > 0);
    // Tokens arrive in batches: never more text signals than tokens.
    QVERIFY(text.count() >= 1);
    QVERIFY2(text.count() <= stats.completion_tokens, qPrintable(QString::number(text.count())));
    QVERIFY(!answer->text().trimmed().isEmpty());
    QVERIFY(answer->stats().contains(QStringLiteral("tok/s")));
    QVERIFY(answer->stats().contains(QStringLiteral("TTFT")));
    // Kept in SQLite exactly as shown.
    workbench::ChatStore store(env_.dataDir() + QStringLiteral("/chat.sqlite"));
    const auto msgs = store.messages(chat()->currentConversation());
    QCOMPARE(msgs.size(), 2);
    QCOMPARE(msgs[0].content, QStringLiteral("What is the capital of France?"));
    QCOMPARE(msgs[1].content, answer->text());
    QVERIFY(msgs[1].tokens_per_s > 0);

    // The Metrics panel reads this request's latencies from the scheduler.
    w_->metrics()->sampleNow();
    QVERIFY(w_->metrics()->chart(1)->pointCount(0) >= 1);  // TTFT P50
    QVERIFY(w_->metrics()->chart(3)->pointCount(2) >= 1);  // total time P99
  }

  void stopRegenerateAndEdit() {
    workbench::ChatParams p = chat()->params();
    p.max_tokens = 2000;
    chat()->setParams(p);
    chat()->send(QStringLiteral("Write a long story about a lighthouse keeper."));
    ui::MessageView* answer = chat()->view()->messages().last();
    QVERIFY(test::waitUntil([&] { return !answer->text().isEmpty(); }, 60000));
    QTest::mouseClick(button("stop"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 20000));
    QVERIFY2(answer->stats().contains(QStringLiteral("stopped")), qPrintable(answer->stats()));

    // Regenerate replaces the last answer (greedy: the same text again, here up to the limit).
    p.max_tokens = 12;
    chat()->setParams(p);
    QTest::mouseClick(button("regenerate"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    QCOMPARE(chat()->view()->messages().size(), 2);
    QVERIFY(!chat()->view()->messages().last()->text().isEmpty());

    // Edit-and-resend: the edited message replaces the old one and everything after it.
    auto* edit = chat()->view()->messages().first()->findChild<QToolButton*>(QStringLiteral("edit"));
    QVERIFY(edit);
    QTest::mouseClick(edit, Qt::LeftButton);
    auto* input = chat()->findChild<QPlainTextEdit*>(QStringLiteral("input"));
    QCOMPARE(input->toPlainText(), QStringLiteral("Write a long story about a lighthouse keeper."));
    input->setPlainText(QStringLiteral("Say hello."));
    QTest::mouseClick(button("send"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    QCOMPARE(chat()->view()->messages().size(), 2);
    QCOMPARE(chat()->view()->messages().first()->text(), QStringLiteral("Say hello."));
    workbench::ChatStore store(env_.dataDir() + QStringLiteral("/chat.sqlite"));
    const auto msgs = store.messages(chat()->currentConversation());
    QCOMPARE(msgs.size(), 2);
    QCOMPARE(msgs[0].content, QStringLiteral("Say hello."));
  }

  void compareSideBySide() {
    chat()->setCompare(true);
    QVERIFY(chat()->viewB()->isVisible());
    // B with the same greedy settings: the same text, although both ran in one batch.
    chat()->setParamsB(chat()->params());
    chat()->send(QStringLiteral("Name three fruits."));
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    QCOMPARE(chat()->viewB()->messages().size(), 2);
    const QString a = chat()->view()->messages().last()->text();
    const QString b = chat()->viewB()->messages().last()->text();
    QVERIFY(!a.isEmpty());
    QCOMPARE(b, a);
    QVERIFY(chat()->viewB()->messages().last()->stats().contains(QStringLiteral("tok/s")));

    // B sampling differently answers on its own; only A's answers are kept.
    workbench::ChatParams pb = chat()->params();
    pb.temperature = 1.0;
    pb.top_p = 0.98;
    pb.top_k = 100;
    pb.seed = 7;
    chat()->setParamsB(pb);
    QCOMPARE(chat()->paramsB().temperature, 1.0);
    QCOMPARE(chat()->paramsB().top_k, 100);
    QTest::mouseClick(button("regenerate"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    QVERIFY(!chat()->viewB()->messages().last()->text().isEmpty());
    workbench::ChatStore store(env_.dataDir() + QStringLiteral("/chat.sqlite"));
    QCOMPARE(store.messages(chat()->currentConversation()).size(), 2);
    chat()->setCompare(false);
    QVERIFY(!chat()->viewB()->isVisible());
  }

  void chatWithAnAdapterAndCompareToBase() {
    // A random rank-8 adapter on all seven projections, saved as PEFT: strong enough that greedy
    // text changes.
    const ModelConfig& c = w_->engine()->model()->config();
    const LoraAdapter lora = LoraAdapter::random(c, 8, 64.0f, 5);
    AdapterMeta meta;
    meta.arch = c.arch;
    const QString dir = env_.dataDir() + QStringLiteral("/adapter");
    QVERIFY(static_cast<bool>(save_peft_adapter(dir.toStdString(), lora, meta, c)));
    chat()->send(QStringLiteral("Name a colour."));
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    const QString base = chat()->view()->messages().last()->text();
    QVERIFY(!base.isEmpty());

    QVERIFY(chat()->addAdapter(dir));
    QCOMPARE(chat()->params().adapter, QStringLiteral("adapter"));
    QCOMPARE(w_->engine()->adapters().size(), 1);
    QVERIFY(!chat()->addAdapter(env_.dataDir() + QStringLiteral("/no-such-adapter")));
    QTest::mouseClick(button("regenerate"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    const QString tuned = chat()->view()->messages().last()->text();
    QVERIFY(!tuned.isEmpty());
    QVERIFY(tuned != base);

    // Side by side: A with the adapter, B the base model, in one batch.
    chat()->setCompare(true);
    workbench::ChatParams pb = chat()->params();
    pb.adapter.clear();
    chat()->setParamsB(pb);
    QTest::mouseClick(button("regenerate"), Qt::LeftButton);
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    QCOMPARE(chat()->view()->messages().last()->text(), tuned);
    QCOMPARE(chat()->viewB()->messages().last()->text(), base);
    chat()->setCompare(false);
  }

  void historyReopens() {
    chat()->send(QStringLiteral("Name a colour."));
    QVERIFY(test::waitUntil([&] { return !chat()->generating(); }, 60000));
    const qint64 conv = chat()->currentConversation();
    const QString answer = chat()->view()->messages().last()->text();
    w_.reset();
    w_ = std::make_unique<ui::MainWindow>(env_.dataDir());
    auto* list = w_->chat()->findChild<QListWidget*>(QStringLiteral("conversations"));
    QVERIFY(list->count() >= 1);
    w_->chat()->openConversation(conv);
    QCOMPARE(w_->chat()->view()->messages().size(), 2);
    QCOMPARE(w_->chat()->view()->messages().last()->text(), answer);
  }
};

QTEST_MAIN(ChatTest)
#include "ui-chat-test.moc"
