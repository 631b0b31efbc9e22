#include "ui/chat-view.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollBar>
#include <QTextBrowser>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace cyllm::ui {

MessageView::MessageView(const QString& role, bool editable, QWidget* parent) : QFrame(parent), role_(role) {
  setFrameShape(QFrame::StyledPanel);
  setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
  setObjectName(QStringLiteral("message-") + role);
  // Users' messages get a tinted background so the transcript reads as turns.
  if (role == QLatin1String("user")) setStyleSheet(QStringLiteral("QFrame#message-user { background: palette(alternate-base); }"));
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(8, 4, 8, 4);
  auto* top = new QHBoxLayout();
  who_ = new QLabel(this);
  QFont f = who_->font();
  f.setBold(true);
  who_->setFont(f);
  top->addWidget(who_);
  top->addStretch();
  if (role == QLatin1String("user") && editable) {
    edit_ = new QToolButton(this);
    edit_->setObjectName(QStringLiteral("edit"));
    connect(edit_, &QToolButton::clicked, this, [this] { emit editRequested(this); });
    top->addWidget(edit_);
  }
  v->addLayout(top);
  body_ = new QTextBrowser(this);
  body_->setObjectName(QStringLiteral("body"));
  body_->setOpenExternalLinks(true);
  body_->setFrameShape(QFrame::NoFrame);
  body_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  body_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  body_->viewport()->setAutoFillBackground(false);
  body_->viewport()->installEventFilter(this);
  v->addWidget(body_);
  stats_ = new QLabel(this);
  stats_->setObjectName(QStringLiteral("stats"));
  stats_->setVisible(false);
  stats_->setWordWrap(true);  // a narrow (compare) view must not grow wider than its viewport
  QPalette p = stats_->palette();
  p.setColor(QPalette::WindowText, p.color(QPalette::PlaceholderText));
  stats_->setPalette(p);
  v->addWidget(stats_);
  retranslateUi();
  fitHeight();
}

void MessageView::retranslateUi() {
  if (role_ == QLatin1String("user")) who_->setText(tr("You"));
  else if (role_ == QLatin1String("assistant")) who_->setText(tr("Assistant"));
  else who_->setText(tr("System"));
  if (edit_) {
    edit_->setText(tr("Edit"));
    edit_->setToolTip(tr("Edit this message and send it again (later messages are replaced)"));
  }
}

void MessageView::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QFrame::changeEvent(e);
}

void MessageView::setText(const QString& markdown) {
  text_ = markdown;
  body_->document()->setMarkdown(text_);
  fitHeight();
}

void MessageView::appendText(const QString& more) { setText(text_ + more); }

QString MessageView::renderedText() const { return body_->toPlainText(); }

void MessageView::setStats(const QString& line) {
  stats_->setText(line);
  stats_->setVisible(!line.isEmpty());
}

QString MessageView::stats() const { return stats_->text(); }

bool MessageView::eventFilter(QObject* o, QEvent* e) {
  // The body's width is known only after the layout placed it: refit when it changes.
  if (o == body_->viewport() && e->type() == QEvent::Resize && body_->viewport()->width() != fitted_width_) fitHeight();
  return QFrame::eventFilter(o, e);
}

void MessageView::fitHeight() {
  // The browser shows the whole document: its height follows the text at the current width.
  QTextDocument* d = body_->document();
  fitted_width_ = body_->viewport()->width();
  d->setTextWidth(fitted_width_ > 0 ? fitted_width_ : 400);
  const int h = static_cast<int>(d->size().height()) + 4;
  if (body_->height() != h) body_->setFixedHeight(h);
}

ChatView::ChatView(QWidget* parent) : QScrollArea(parent) {
  box_ = new QWidget(this);
  layout_ = new QVBoxLayout(box_);
  layout_->setContentsMargins(6, 6, 6, 6);
  layout_->addStretch(1);  // messages keep their own height; the space left stays below them
  setWidget(box_);
  setWidgetResizable(true);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
}

MessageView* ChatView::addMessage(const QString& role, const QString& markdown) {
  auto* m = new MessageView(role, editable_, box_);
  m->setText(markdown);
  connect(m, &MessageView::editRequested, this, [this](MessageView* self) { emit editRequested(messages_.indexOf(self)); });
  layout_->insertWidget(layout_->count() - 1, m);
  messages_.append(m);
  scrollToEnd();
  return m;
}

void ChatView::clear() { truncate(0); }

void ChatView::truncate(int index) {
  while (messages_.size() > index && index >= 0) {
    MessageView* m = messages_.takeLast();
    layout_->removeWidget(m);
    m->deleteLater();
  }
}

void ChatView::scrollToEnd() {
  // After the layout has placed the new height.
  QTimer::singleShot(0, this, [this] { verticalScrollBar()->setValue(verticalScrollBar()->maximum()); });
}

}  // namespace cyllm::ui
