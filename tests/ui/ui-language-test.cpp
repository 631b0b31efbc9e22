// Languages and settings: switching to Simplified Chinese at run time retranslates the open window (sidebar,
// buttons, group titles), switching back restores English, and the zh_CN catalogue has no
// unfinished or empty translations. The window's size and panel come back at the next start.
#include <QFile>
#include <QGroupBox>
#include <QListWidget>
#include <QPushButton>
#include <QRegularExpression>
#include <QStatusBar>
#include <QTest>

#include "ui-test-env.h"
#include "ui/chat-panel.h"
#include "ui/main-window.h"
#include "ui/settings-panel.h"
#include "ui/translator.h"

using namespace cyllm;

class LanguageTest : public QObject {
  Q_OBJECT
  test::UiTestEnv env_;

 private slots:
  void switchesAtRunTime() {
    ui::MainWindow w(env_.dataDir());
    w.show();
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kChat)->text(), QStringLiteral("Chat"));
    auto* send = w.chat()->findChild<QPushButton*>(QStringLiteral("send"));
    QCOMPARE(send->text(), QStringLiteral("Send"));

    QVERIFY(w.settings()->setLanguage(QStringLiteral("zh_CN")));
    QCOMPARE(ui::currentLanguage(), QStringLiteral("zh_CN"));
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kChat)->text(), QStringLiteral("聊天"));
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kDatasets)->text(), QStringLiteral("数据集"));
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kSettings)->text(), QStringLiteral("设置"));
    QCOMPARE(send->text(), QStringLiteral("发送"));
    QCOMPARE(w.windowTitle(), QStringLiteral("CY-LLM 工作台"));
    // Every group box title of every panel changed to something else (no English left behind).
    for (auto* box : w.findChildren<QGroupBox*>()) {
      if (box->title().isEmpty()) continue;
      QVERIFY2(box->title().contains(QRegularExpression(QStringLiteral("[\\x{4e00}-\\x{9fff}]"))), qPrintable(box->title()));
    }
    // The choice is kept for the next start.
    QCOMPARE(QSettings().value(QStringLiteral("ui/language")).toString(), QStringLiteral("zh_CN"));

    QVERIFY(w.settings()->setLanguage(QStringLiteral("en")));
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kChat)->text(), QStringLiteral("Chat"));
    QCOMPARE(send->text(), QStringLiteral("Send"));
  }

  void restoredAtStart() {
    QSettings().setValue(QStringLiteral("ui/language"), QStringLiteral("zh_CN"));
    ui::MainWindow w(env_.dataDir());
    QCOMPARE(w.sidebar()->item(ui::MainWindow::kServer)->text(), QStringLiteral("服务器"));
    QVERIFY(w.settings()->setLanguage(QStringLiteral("en")));
  }

  void windowStateRestored() {
    {
      ui::MainWindow w(env_.dataDir());
      w.show();
      w.resize(1210, 830);
      w.showPanel(ui::MainWindow::kServer);
      QVERIFY(test::waitUntil([&] { return w.size() == QSize(1210, 830); }, 2000));
      // Every panel fits a 1024x768 screen.
      QVERIFY2(w.minimumSizeHint().width() <= 1024 && w.minimumSizeHint().height() <= 740,
               qPrintable(QStringLiteral("%1x%2").arg(w.minimumSizeHint().width()).arg(w.minimumSizeHint().height())));
      w.close();
    }
    ui::MainWindow again(env_.dataDir());
    QCOMPARE(again.size(), QSize(1210, 830));
    QCOMPARE(again.sidebar()->currentRow(), int(ui::MainWindow::kServer));
  }

  void catalogueIsComplete() {
    QFile f(QStringLiteral(CYLLM_SOURCE_DIR "/translations/cyllm_zh_CN.ts"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString ts = QString::fromUtf8(f.readAll());
    QVERIFY(ts.count(QStringLiteral("<message")) > 100);
    QCOMPARE(ts.count(QStringLiteral("type=\"unfinished\"")), 0);
    QCOMPARE(ts.count(QStringLiteral("<translation></translation>")), 0);
    QCOMPARE(ts.count(QStringLiteral("type=\"vanished\"")) + ts.count(QStringLiteral("type=\"obsolete\"")), 0);
  }
};

QTEST_MAIN(LanguageTest)
#include "ui-language-test.moc"
