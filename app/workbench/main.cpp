// cyllm-workbench: the desktop workbench. Thin: the panels are in ui/, the wiring in
// app/workbench (shared with the QtTest tests).
//   cyllm-workbench [--model FILE.gguf] [--lang en|zh_CN]
//   cyllm-workbench --screenshots DIR [--model FILE.gguf] [--lang zh_CN]
#include <QApplication>
#include <QCommandLineParser>

#include "ui/main-window.h"
#include "ui/settings-panel.h"
#include "workbench/screenshots.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("CY-LLM"));
  QApplication::setApplicationName(QStringLiteral("Workbench"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser cl;
  cl.setApplicationDescription(QStringLiteral("CY-LLM Workbench: chat, datasets, training and a local OpenAI-compatible server."));
  cl.addHelpOption();
  cl.addVersionOption();
  QCommandLineOption model({QStringLiteral("m"), QStringLiteral("model")}, QStringLiteral("GGUF model to open."), QStringLiteral("FILE"));
  QCommandLineOption lang(QStringLiteral("lang"), QStringLiteral("Interface language: en or zh_CN."), QStringLiteral("CODE"));
  QCommandLineOption shots(QStringLiteral("screenshots"), QStringLiteral("Render every panel to DIR/<panel>.png and exit."),
                           QStringLiteral("DIR"));
  cl.addOptions({model, lang, shots});
  cl.process(app);

  if (cl.isSet(shots)) return cyllm::workbench::runScreenshots(cl.value(shots), cl.value(model), cl.value(lang));

  cyllm::ui::MainWindow w;
  if (cl.isSet(lang)) w.settings()->setLanguage(cl.value(lang));
  w.show();
  if (cl.isSet(model)) w.openModel(cl.value(model));
  else w.startup(/*ask=*/true);
  return app.exec();
}
