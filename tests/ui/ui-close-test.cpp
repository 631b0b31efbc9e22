// Closing the window in the middle of a long generation: the window closes promptly (nothing
// hangs: the engine thread is cancelled and joined), and the partial answer is in the history
// with every character that was shown (nothing is lost).
#include <QElapsedTimer>
#include <QTest>

#include "ui-test-env.h"
#include "ui/chat-panel.h"
#include "ui/chat-view.h"
#include "ui/main-window.h"
#include "workbench/chat-store.h"
#include "workbench/engine-host.h"

using namespace cyllm;

class CloseTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void closeDuringGeneration() {
    CYLLM_UI_REQUIRE_MODEL(model);
    auto w = std::make_unique<ui::MainWindow>(env_.dataDir());
    w->show();
    w->openModel(model);
    QVERIFY(test::waitUntil([&] { return w->engine()->hasModel(); }, 60000));
    workbench::ChatParams p;
    p.temperature = 0;
    p.top_k = 0;
    p.top_p = 1;
    p.max_tokens = 4000;
    w->chat()->setParams(p);
    w->chat()->send(QStringLiteral("Write a very long essay about the history of bridges."));
    ui::MessageView* answer = w->chat()->view()->messages().last();
    QVERIFY(test::waitUntil([&] { return answer->text().size() > 20; }, 60000));
    QVERIFY(w->chat()->generating());
    const QString shown = answer->text();
    const qint64 conv = w->chat()->currentConversation();

    QElapsedTimer t;
    t.start();
    QVERIFY(w->close());
    w.reset();  // destroys panels, server, engine (joins its thread)
    QVERIFY2(t.elapsed() < 10000, qPrintable(QString::number(t.elapsed())));

    workbench::ChatStore store(env_.dataDir() + QStringLiteral("/chat.sqlite"));
    const auto msgs = store.messages(conv);
    QCOMPARE(msgs.size(), 2);
    QCOMPARE(msgs[1].role, QStringLiteral("assistant"));
    QVERIFY2(msgs[1].content.startsWith(shown), qPrintable(msgs[1].content.left(200)));
    QCOMPARE(msgs[1].finish_reason, QStringLiteral("cancelled"));
  }

  void closeWhileModelLoads() {
    CYLLM_UI_REQUIRE_MODEL(model);
    QElapsedTimer t;
    t.start();
    {
      ui::MainWindow w(env_.dataDir());
      w.show();
      w.openModel(model);
      QVERIFY(w.engine()->loading());
      w.close();
    }
    QVERIFY(t.elapsed() < 30000);
  }
};

QTEST_MAIN(CloseTest)
#include "ui-close-test.moc"
