-- Export pages look up, per chat, the DateTime seconds earlier rows of the same counter use in
-- the minute before the chat (Metrica merges two conversions of one visitor in one second):
-- by time, so an export never loads the whole ledger.
CREATE INDEX metrica_sent_by_time ON metrica_sent(counter, date_time);
